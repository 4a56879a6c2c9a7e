/**
 * A test client's view of one scope over a raw socket.io-client, checking the
 * gateway's ordering promise: no job's `seq` ever goes back. Used by the fault
 * suites and the convergence integration test.
 */
import type { JobMap, JobValue } from "../../shared/job";
import type { ClientSocket } from "./gateway";

/** True when `held` has exactly the stored jobs, values equal except the reader-only `stalled`. */
export function sameJobs(held: ReadonlyMap<string, JobValue> | JobMap, stored: JobMap): boolean {
  const entries: [string, JobValue][] =
    held instanceof Map ? [...held.entries()] : Object.entries(held as JobMap);
  if (entries.length !== Object.keys(stored).length) return false;
  for (const [id, value] of entries) {
    const truth = stored[id];
    if (truth === undefined) return false;
    const { stalled: _stalled, ...rest } = value;
    if (JSON.stringify(rest) !== JSON.stringify(truth)) return false;
  }
  return true;
}

export interface ScopeViewOptions {
  /**
   * Record a `progress` for another scope as a violation (a socket subscribed
   * to this scope only should never get one), instead of ignoring it.
   * @default false
   */
  foreignIsViolation?: boolean;
}

/**
 * One client's view of one scope: the ack's snapshot, then `progress` merged
 * and `snapshot` replacing; records any job whose `seq` went back (and, with
 * `foreignIsViolation`, any `progress` for a scope it did not subscribe to).
 */
export class ScopeView {
  readonly jobs = new Map<string, JobValue>();
  readonly violations: string[] = [];
  snapshots = 0;
  progress = 0;
  subscribed = false;

  constructor(
    readonly socket: ClientSocket,
    readonly scope: string,
    options: ScopeViewOptions = {},
  ) {
    socket.on("progress", (message) => {
      if (message.scope !== scope) {
        if (options.foreignIsViolation) this.violations.push(`foreign scope ${message.scope}`);
        return;
      }
      this.progress += 1;
      if (!this.subscribed) return; // in flight when we left; not ours any more
      this.#merge(message.jobs, "progress");
    });
    socket.on("snapshot", (message) => {
      if (message.scope !== scope || !this.subscribed) return;
      this.snapshots += 1;
      this.#replace(message.jobs as JobMap, "snapshot");
    });
  }

  /** A view of `scope` on a socket about to connect, subscribed. */
  static async open(socket: Promise<ClientSocket>, scope: string): Promise<ScopeView> {
    const view = new ScopeView(await socket, scope);
    await view.subscribe();
    return view;
  }

  /** `count` subscribed views of `scope`, each on a socket of its own. */
  static openMany(
    count: number,
    connect: () => Promise<ClientSocket>,
    scope: string,
  ): Promise<ScopeView[]> {
    return Promise.all(Array.from({ length: count }, () => ScopeView.open(connect(), scope)));
  }

  /** Subscribes with a callback ack, so the snapshot is applied before any later event. */
  subscribe(timeout = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.timeout(timeout).emit("subscribe", { scope: this.scope }, (error, ack) => {
        if (error) return reject(error instanceof Error ? error : new Error(String(error)));
        if (!ack.ok) return reject(new Error(`subscribe ${this.scope}: ${ack.error.code}`));
        this.subscribed = true;
        this.#replace(ack.jobs, "ack");
        resolve();
      });
    });
  }

  /** Unsubscribes and forgets the jobs (a later subscribe starts from its own snapshot). */
  async unsubscribe(timeout = 10_000): Promise<void> {
    this.subscribed = false;
    this.jobs.clear();
    await this.socket.timeout(timeout).emitWithAck("unsubscribe", { scope: this.scope });
  }

  equals(stored: JobMap): boolean {
    return sameJobs(this.jobs, stored);
  }

  /** A snapshot replaces, but no job held may go back in `seq` (nothing was lost here). */
  #replace(jobs: JobMap, where: string): void {
    for (const id of [...this.jobs.keys()]) if (!(id in jobs)) this.jobs.delete(id);
    this.#merge(jobs, where);
  }

  #merge(jobs: Record<string, JobValue | null>, where: string): void {
    for (const [id, value] of Object.entries(jobs)) {
      if (value === null) {
        this.jobs.delete(id);
        continue;
      }
      const held = this.jobs.get(id);
      if (held !== undefined && value.seq < held.seq) {
        this.violations.push(`${where}: job ${id} went from seq ${held.seq} to ${value.seq}`);
        continue;
      }
      this.jobs.set(id, value);
    }
  }
}
