/**
 * The stored job value (DESIGN.md, "Redis layout": field value) and the checks
 * every reader applies to it. Isomorphic.
 */

/** Any JSON value; `meta` is stored as given. */
export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type JobStatus = "running" | "completed" | "failed" | "canceled";
export const JOB_STATUSES: readonly JobStatus[] = ["running", "completed", "failed", "canceled"];

/** Heartbeat assumed for values written without a `heartbeat` field (the seed's). */
export const DEFAULT_HEARTBEAT_MS = 30_000;
/** A running job is stalled once its last write is older than this many heartbeats. */
export const STALLED_AFTER_HEARTBEATS = 3;

/** A job as stored in Redis and sent over the wire (timestamps are ISO-8601 UTC strings). */
export interface JobValue {
  /** Job id (the hash field). */
  id: string;
  /** Integer 0..100. */
  percent: number;
  count: number;
  total: number;
  started_at: string;
  estimated_finished_at: string | null;
  finished_at: string | null;
  status: JobStatus;
  updated_at: string;
  /** +1 on every write of this job; never goes back. */
  seq: number;
  name?: string;
  error?: string;
  error_count?: number;
  meta?: JsonObject;
  /** Smoothed items per second (EMA, smoothing 0.3). */
  rate?: number;
  /** The writing tracker's heartbeat in ms. */
  heartbeat?: number;
  /** The writing tracker's retention in ms: Redis prunes the job at `updated_at` + `retention`. */
  retention?: number;
  /** Added by readers: a running job whose writer stopped writing. Never stored. */
  stalled?: boolean;
  /** Set when a cancel was requested (see "Control and composition"). */
  cancel_requested_at?: string;
  /** Id of the parent job, for a child job. */
  parent?: string;
  /** A child's share of its parent (a positive integer). */
  weight?: number;
  /** A child's fraction as last added to its parent, in parts per billion; absent until added. */
  parent_ppb?: number;
  /** The parent's `children.gen` it was added to (a parent written again after removal starts anew). */
  parent_gen?: number;
  /** A parent's aggregate of its children (see ChildrenSummary). */
  children?: ChildrenSummary;
  /** A parent's exact fraction: `children.progress / (children.weight * 1e9)`. */
  fraction?: number;
  /** A parent that completes by itself once its children have ended. */
  complete_with_children?: boolean;
}

/**
 * What a parent job keeps of its children, all integers: their number, how many
 * ended in each way, the sum of their weights, and `progress`, the sum of
 * weight * fraction in parts per billion. The `ema_*` and `sample_*` fields are
 * the state of the parent's ETA estimate, `gen` when the aggregate began.
 */
export interface ChildrenSummary {
  total: number;
  completed: number;
  failed: number;
  canceled: number;
  weight: number;
  progress: number;
  ema_dp?: number;
  ema_dt?: number;
  sample_at?: number;
  sample_progress?: number;
  /** When this aggregate began (ms since the epoch); children added to an older one register anew. */
  gen?: number;
}

/** Jobs of one scope by id; `null` in a partial update means "removed". */
export type JobMap = Record<string, JobValue>;
export type JobPatch = Record<string, JobValue | null>;

/** The pub/sub message (DESIGN.md, "Pub/sub"). */
export interface ProgressMessage {
  scope: string;
  jobs: JobPatch;
}

/** toISOString()'s layout: "d" a digit, anything else itself. */
const ISO_LAYOUT = "dddd-dd-ddTdd:dd:dd.dddZ";

/** The two digits at `at` as a number (both are digits: checked before). */
function twoDigits(text: string, at: number): number {
  return (text.charCodeAt(at) - 48) * 10 + text.charCodeAt(at + 1) - 48;
}

/** The days of a month of the proleptic Gregorian calendar (month 1..12). */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Whether `text` is written as toISOString() writes it, a day that exists in
 * its month and an hour below 24: every engine's Date.parse takes such a
 * text. A gateway checks three dates per update, and calling the date parser
 * for each cost more time, caches cold, than the rest of handling the
 * message; any other text still goes to Date.parse.
 */
function isPlainIso(text: string): boolean {
  if (text.length !== ISO_LAYOUT.length) return false;
  for (let i = 0; i < ISO_LAYOUT.length; i++) {
    const code = text.charCodeAt(i);
    const want = ISO_LAYOUT.charCodeAt(i);
    if (want === 100 ? code < 48 || code > 57 : code !== want) return false;
  }
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  const year = twoDigits(text, 0) * 100 + twoDigits(text, 2);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    twoDigits(text, 11) < 24 &&
    twoDigits(text, 14) < 60 &&
    twoDigits(text, 17) < 60
  );
}

function isIsoOrNull(value: unknown): boolean {
  return (
    value === null ||
    (typeof value === "string" && (isPlainIso(value) || !Number.isNaN(Date.parse(value))))
  );
}

/**
 * Returns the value if it has the shape of a job, else null. Readers use this
 * to skip garbage written into a scope hash by hand instead of crashing on it.
 */
export function asJobValue(value: unknown): JobValue | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const ok =
    typeof v.id === "string" &&
    typeof v.percent === "number" &&
    typeof v.count === "number" &&
    typeof v.total === "number" &&
    Number.isSafeInteger(v.seq) &&
    typeof v.status === "string" &&
    (JOB_STATUSES as readonly string[]).includes(v.status) &&
    // Dates that parse: readers compute stalled, expiry and clock skew from them.
    typeof v.started_at === "string" &&
    isIsoOrNull(v.started_at) &&
    typeof v.updated_at === "string" &&
    isIsoOrNull(v.updated_at) &&
    isIsoOrNull(v.estimated_finished_at) &&
    isIsoOrNull(v.finished_at);
  return ok ? (v as unknown as JobValue) : null;
}

/** Parses a stored JSON string into a job value, or null if it is not one. */
export function parseJobValue(raw: string): JobValue | null {
  try {
    return asJobValue(JSON.parse(raw));
  } catch {
    return null;
  }
}

/**
 * When Redis prunes the job (ms since the epoch, the writer's clock): `updated_at` +
 * `retention`; Infinity for a value written without `retention`.
 */
export function expiresAt(job: JobValue): number {
  const retention = job.retention;
  if (typeof retention !== "number" || !(retention > 0)) return Infinity;
  const at = Date.parse(job.updated_at) + retention;
  return Number.isNaN(at) ? Infinity : at;
}

/**
 * The smallest count at which the integer percent (floor of count * 100 / total)
 * exceeds `percent`: when the tracker writes next, and how far a bar may move.
 */
export function boundaryAfter(percent: number, total: number): number {
  if (percent >= 100 || total === 0) return Infinity;
  return Math.floor(((percent + 1) * total + 99) / 100);
}

/** True when a fresh read at `now` would no longer return the job (its retention ran out). */
export function isExpired(job: JobValue, now: number): boolean {
  return expiresAt(job) <= now;
}

/**
 * An object without a prototype: job ids come from Redis, and an id such as
 * `__proto__` must stay an ordinary key.
 */
export function emptyMap<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/**
 * What every reader shows of a scope's jobs at `now`: those past retention left
 * out, stalled ones marked. Returns a new map without a prototype, so that a
 * job id `__proto__` stays an ordinary key.
 */
export function visibleJobs(jobs: Iterable<[string, JobValue]>, now: number): JobMap {
  const out = emptyMap<JobValue>();
  for (const [id, job] of jobs) if (!isExpired(job, now)) out[id] = withStalled(job, now);
  return out;
}

/** True for a running job whose last write is older than three of its heartbeats. */
export function isStalled(job: JobValue, now: number): boolean {
  if (job.status !== "running") return false;
  const heartbeat =
    typeof job.heartbeat === "number" && job.heartbeat > 0 ? job.heartbeat : DEFAULT_HEARTBEAT_MS;
  return now - Date.parse(job.updated_at) > STALLED_AFTER_HEARTBEATS * heartbeat;
}

/** Returns the job with `stalled: true` added when it is stalled (a copy; the input is not changed). */
export function withStalled(job: JobValue, now: number): JobValue {
  return isStalled(job, now) ? { ...job, stalled: true } : job;
}
