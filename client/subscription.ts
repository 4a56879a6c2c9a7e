/**
 * One scope watched by the client: its JobStore (merge by seq, replace on
 * snapshot), its listeners, and the stalled marks derived on a timer.
 *
 * While a `subscribe` is in flight, `progress` and `snapshot` messages for the
 * scope are buffered and replayed on top of the ack's snapshot, so an update
 * that raced with the gateway's snapshot read is neither lost nor allowed to
 * move a job backwards (it is merged by seq).
 */
import type { JobMap, JobPatch, JobValue } from "../shared/job";
import { emptyMap, withStalled } from "../shared/job";
import { JobStore, type StoreChange } from "../shared/store";

import type { ProgressClientError } from "./progress-client-error";

/**
 * Called with the scope's full job map (stalled jobs marked `stalled: true`)
 * and what changed since the previous call.
 */
export type JobsListener = (jobs: JobMap, change: StoreChange) => void;

/**
 * One `subscribe()` call's hold on the scope. The same function may be
 * registered by two consumers; each registration is its own object so that
 * one consumer's unsubscribe removes only its own.
 */
export interface Registration {
  readonly listener: JobsListener;
}

type Buffered = { kind: "progress"; jobs: JobPatch } | { kind: "snapshot"; jobs: JobMap };

function merge(into: StoreChange, from: StoreChange): void {
  for (const id of from.removed) {
    delete into.updated[id];
    if (!into.removed.includes(id)) into.removed.push(id);
  }
  for (const [id, value] of Object.entries(from.updated)) {
    into.updated[id] = value;
    into.removed = into.removed.filter((r) => r !== id);
  }
}

export class Subscription {
  readonly scope: string;
  readonly listeners = new Set<Registration>();
  /** The last error of this scope's subscription, cleared by a successful subscribe. */
  error: ProgressClientError | undefined;
  /** Bumped per subscribe sent, so that a late ack of a superseded one is ignored. */
  attempt = 0;
  /** Consecutive retryable failures, for the backoff. */
  failures = 0;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** True when the last subscribe ack said the token may cancel this scope's jobs. */
  canCancel = false;

  readonly #store = new JobStore();
  readonly #stalled = new Set<string>();
  #buffer: Buffered[] | null = null;
  #loaded = false;

  constructor(scope: string) {
    this.scope = scope;
  }

  /** True once a snapshot has been received (the job map is meaningful, even if empty). */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** A subscribe was sent: buffer messages until its ack. */
  begin(): void {
    this.#buffer = [];
  }

  /** The subscribe will not be acked (disconnected or failed): stop buffering. */
  abandon(): void {
    this.#buffer = null;
  }

  /** The subscribe ack carried the snapshot: replace, replay what raced with it, notify. */
  settle(snapshot: JobMap, now: number): void {
    const buffered = this.#buffer ?? [];
    this.#buffer = null;
    this.error = undefined;
    this.failures = 0;
    const change = this.#store.replace(snapshot);
    for (const message of buffered) {
      merge(
        change,
        message.kind === "progress"
          ? this.#store.apply(message.jobs)
          : this.#store.replace(message.jobs),
      );
    }
    this.#loaded = true;
    this.#notify(change, now, true);
  }

  /** A `progress` message (a partial map, merged by seq). */
  progress(jobs: JobPatch, now: number): void {
    if (this.#buffer !== null) this.#buffer.push({ kind: "progress", jobs });
    else if (this.#loaded) this.#notify(this.#store.apply(jobs), now, false);
  }

  /** A `snapshot` message (the gateway resynchronised): a full replacement. */
  snapshot(jobs: JobMap, now: number): void {
    if (this.#buffer !== null) this.#buffer.push({ kind: "snapshot", jobs });
    else if (this.#loaded) this.#notify(this.#store.replace(jobs), now, false);
  }

  /** Forgets every job (after a final error such as `forbidden`) and notifies. */
  clear(now: number): void {
    const change: StoreChange = {
      updated: emptyMap<JobValue>(),
      removed: Object.keys(this.#store.toJSON()),
    };
    this.#store.clear();
    this.#stalled.clear();
    if (change.removed.length > 0) this.#notify(change, now, false);
  }

  /** Re-evaluates stalled marks at `now` (server time); notifies when one flipped. */
  checkStalled(now: number): void {
    const change: StoreChange = { updated: emptyMap<JobValue>(), removed: [] };
    for (const [id, job] of Object.entries(this.#store.toJSON())) {
      const marked = withStalled(job, now);
      if ((marked.stalled === true) !== this.#stalled.has(id)) change.updated[id] = marked;
    }
    if (Object.keys(change.updated).length > 0) this.#notify(change, now, false);
  }

  /**
   * The current jobs with stalled marks at `now`. A pure read: the marks the
   * listeners last saw change only in #notify, so that reading the jobs between
   * two stalled checks cannot swallow a flip that the listeners never saw.
   */
  jobs(now: number): JobMap {
    const jobs = emptyMap<JobValue>();
    // A snapshot value may already carry the gateway's mark; keep it for that seq (our
    // clock estimate may not be calibrated yet), else judge from the estimated server time.
    for (const [id, job] of Object.entries(this.#store.toJSON())) jobs[id] = withStalled(job, now);
    return jobs;
  }

  #notify(change: StoreChange, now: number, always: boolean): void {
    if (!always && change.removed.length === 0 && Object.keys(change.updated).length === 0) return;
    const jobs = this.jobs(now);
    this.#stalled.clear();
    for (const [id, job] of Object.entries(jobs)) if (job.stalled === true) this.#stalled.add(id);
    const updated = emptyMap<JobValue>();
    for (const id of Object.keys(change.updated)) {
      const job = jobs[id];
      if (job !== undefined) updated[id] = job;
    }
    const marked: StoreChange = { updated, removed: change.removed };
    for (const { listener } of [...this.listeners]) listener(jobs, marked);
  }
}
