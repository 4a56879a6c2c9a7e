/**
 * Waiting for a connection's "ready" event, at most `timeout` ms. The wait's
 * timer does not hold the process, and close() fails every wait at once: a
 * closed gateway must not keep a caller's subscribe (nor the process) waiting
 * for a Redis that is down.
 */
import { UnavailableError } from "./errors/unavailable-error";

/** What is waited on: an ioredis client or Cluster. */
export interface ReadyTarget {
  once(event: "ready", listener: () => void): unknown;
  off(event: "ready", listener: () => void): unknown;
}

export class ReadyWaiter {
  readonly #target: ReadyTarget;
  readonly #isReady: () => boolean;
  readonly #timeout: number;
  readonly #what: string;
  readonly #pending = new Set<(error: Error) => void>();
  #closed = false;

  /**
   * @param target the connection whose "ready" ends a wait.
   * @param isReady whether it is ready now.
   * @param timeout ms a wait may last.
   * @param what names the connection in the timeout's message ("Redis Cluster").
   */
  constructor(target: ReadyTarget, isReady: () => boolean, timeout: number, what: string) {
    this.#target = target;
    this.#isReady = isReady;
    this.#timeout = timeout;
    this.#what = what;
  }

  /** Resolves once ready; rejects with an UnavailableError after `timeout` or on close(). */
  wait(): Promise<void> {
    if (this.#closed) return Promise.reject(new UnavailableError("The gateway is closing"));
    if (this.#isReady()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        this.#target.off("ready", onReady);
        this.#pending.delete(settle);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onReady = () => settle();
      const timer = setTimeout(
        () =>
          settle(
            new UnavailableError(`${this.#what} did not become ready within ${this.#timeout} ms`),
          ),
        this.#timeout,
      );
      timer.unref();
      this.#target.once("ready", onReady);
      this.#pending.add(settle);
    });
  }

  /** Fails every wait now and every later one at once. */
  close(): void {
    this.#closed = true;
    for (const settle of [...this.#pending]) {
      settle(new UnavailableError("The gateway is closing"));
    }
  }
}
