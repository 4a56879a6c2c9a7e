/**
 * A test client of a gateway that keeps, per scope, what a browser would show:
 * the subscribe snapshot, then `progress` merged by seq and `snapshot`
 * replacing. Records when each value arrived, for recovery-time measurements.
 */
import { io } from "socket.io-client";
import type { JobValue } from "../../shared/job";
import { JobStore } from "../../shared/store";
import { connected, subscribe, type ClientSocket } from "./gateway";

export class Watcher {
  readonly socket: ClientSocket;
  readonly #stores = new Map<string, JobStore>();
  /** `snapshot` events received, per scope. */
  readonly snapshots = new Map<string, number>();
  /** `progress` events received. */
  progressEvents = 0;
  #listeners: (() => void)[] = [];

  constructor(
    url: string,
    token: string,
    readonly name: string,
  ) {
    this.socket = io(url, {
      auth: { token },
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    this.socket.on("progress", ({ scope, jobs }) => {
      this.progressEvents += 1;
      this.#stores.get(scope)?.apply(jobs);
      this.#changed();
    });
    this.socket.on("snapshot", ({ scope, jobs }) => {
      this.snapshots.set(scope, (this.snapshots.get(scope) ?? 0) + 1);
      this.#stores.get(scope)?.replace(jobs as Record<string, JobValue>);
      this.#changed();
    });
  }

  async connect(): Promise<this> {
    await connected(this.socket);
    return this;
  }

  /** Subscribes to each scope in turn (throws on a refused one). */
  async watch(scopes: readonly string[]): Promise<void> {
    for (const scope of scopes) {
      const store = new JobStore();
      this.#stores.set(scope, store);
      const ack = await subscribe(this.socket, scope);
      if (!ack.ok) throw new Error(`${this.name}: subscribe ${scope}: ${ack.error.code}`);
      store.replace(ack.jobs);
    }
  }

  /** The job as this client sees it. */
  job(scope: string, id: string): JobValue | undefined {
    return this.#stores.get(scope)?.get(id);
  }

  /** Calls `listener` after every change (returns the remover). */
  onChange(listener: () => void): () => void {
    this.#listeners.push(listener);
    return () => (this.#listeners = this.#listeners.filter((l) => l !== listener));
  }

  close(): void {
    this.socket.disconnect();
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
