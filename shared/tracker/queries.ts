/**
 * Reading and removing jobs: `RedisProgress.jobs`, `find` and `remove`.
 * Reads go through the read script so that retention is applied on read too.
 */
import { DEFAULT_PREFIX, scopeKeys, validateJobId, validatePrefix } from "../keys";
import { isExpired, withStalled, type JobValue } from "../job";
import { formatScope } from "../scope";
import { acquireConnection, type Connection } from "./connection";
import type { ScopeOptions } from "./options";
import { readScopeValues } from "./read-values";
import { publishCommand, runScript } from "./scripts";

/** A job as the Node queries return it: `*_at` fields are Date objects. */
export type Job = Omit<
  JobValue,
  "started_at" | "estimated_finished_at" | "finished_at" | "updated_at" | "cancel_requested_at"
> & {
  started_at: Date;
  estimated_finished_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
  cancel_requested_at?: Date;
};

function toJob(value: JobValue): Job {
  const {
    started_at,
    estimated_finished_at,
    finished_at,
    updated_at,
    cancel_requested_at,
    ...rest
  } = value;
  const job: Job = {
    ...rest,
    started_at: new Date(started_at),
    estimated_finished_at: estimated_finished_at === null ? null : new Date(estimated_finished_at),
    finished_at: finished_at === null ? null : new Date(finished_at),
    updated_at: new Date(updated_at),
  };
  if (cancel_requested_at !== undefined) job.cancel_requested_at = new Date(cancel_requested_at);
  return job;
}

export interface ResolvedScope {
  conn: Connection;
  scope: string;
  prefix: string;
  keys: ReturnType<typeof scopeKeys>;
}

/**
 * Validates the scope options (before any Redis command) and acquires the
 * connection; the caller must `conn.release()`.
 */
export function resolveScope(options: ScopeOptions): ResolvedScope {
  if (typeof options !== "object" || options === null)
    throw new TypeError("Expected an options object");
  const scope = formatScope(options.scope);
  const prefix = validatePrefix(options.prefix ?? DEFAULT_PREFIX);
  const conn = acquireConnection(options.redis);
  return { conn, scope, prefix, keys: scopeKeys(prefix, scope, conn.cluster) };
}

/**
 * Reads a scope's stored values (after pruning), skipping anything that is not a
 * job. Values come back as stored (ISO strings), with `stalled` added.
 */
export async function readScope(options: ScopeOptions): Promise<Record<string, JobValue>> {
  const { conn, scope, keys } = resolveScope(options);
  try {
    const stored = await readScopeValues(conn.client, keys, scope, conn.cluster);
    const now = Date.now();
    // No prototype: a job id `__proto__` must stay an ordinary key.
    const jobs = Object.create(null) as Record<string, JobValue>;
    for (const id in stored.jobs) {
      const value = stored.jobs[id] as JobValue;
      // One past retention stays in Redis until its next housekeeping, but is gone for readers.
      if (!isExpired(value, now)) jobs[id] = withStalled(value, now);
    }
    return jobs;
  } finally {
    await conn.release();
  }
}

/** Every job of a scope, by id (the seed's `RedisProgress.jobs`). */
export async function jobs(options: ScopeOptions): Promise<Record<string, Job>> {
  const values = await readScope(options);
  return Object.fromEntries(Object.entries(values).map(([id, value]) => [id, toJob(value)]));
}

/** One job, or null when it does not exist (or its retention ran out). */
export async function find(options: ScopeOptions & { id: string }): Promise<Job | null> {
  validateJobId(options.id);
  const all = await readScope(options);
  const value = all[options.id];
  return value === undefined ? null : toJob(value);
}

/** Removes one job (`id`) or every job of the scope; resolves to the number removed. */
export async function remove(options: ScopeOptions & { id?: string }): Promise<number> {
  const id = options.id === undefined ? "" : validateJobId(options.id);
  const { conn, scope, keys } = resolveScope(options);
  try {
    return (await runScript(
      conn.client,
      "remove",
      [keys.hash, keys.expiry],
      [scope, publishCommand(conn.cluster), id],
    )) as number;
  } finally {
    await conn.release();
  }
}
