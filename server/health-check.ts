/**
 * The health check of the gateway's own Redis connections: a PING every
 * `interval` ms on each. A server that stops answering without closing the
 * socket (SIGSTOP, a network partition, a half-open connection after a
 * failover) is invisible to TCP, and an idle pub/sub connection never asks:
 * without this it would wait for messages that never come. A PING not
 * answered within `timeout` ms drops the connection, ioredis reconnects, and
 * the pub/sub side then resubscribes and re-reads every scope. In cluster mode
 * the targets are the shard links of the moment: a dropped link ends, and its
 * channels are subscribed again on a new one.
 */
import type { Redis } from "ioredis";
import { TimeoutError } from "../shared/errors/timeout-error";

export interface HealthCheckTarget {
  /** Names the connection in reports ("pubsub", "command"). */
  readonly name: string;
  readonly client: Redis;
}

export class HealthCheck {
  readonly #targets: () => readonly HealthCheckTarget[];
  readonly #timeout: number;
  readonly #onDead: (name: string, error: TimeoutError) => void;
  readonly #probing = new Set<Redis>();
  readonly #timer: NodeJS.Timeout | undefined;

  /**
   * @param targets the connections, or a function giving them at each check.
   * @param interval ms between PINGs; 0 turns the check off.
   * @param timeout ms a PING may take before its connection counts as dead.
   * @param onDead called before a dead connection is dropped and reconnected.
   */
  constructor(
    targets: readonly HealthCheckTarget[] | (() => readonly HealthCheckTarget[]),
    interval: number,
    timeout: number,
    onDead: (name: string, error: TimeoutError) => void,
  ) {
    this.#targets = typeof targets === "function" ? targets : () => targets;
    this.#timeout = timeout;
    this.#onDead = onDead;
    if (interval > 0 && (typeof targets === "function" || targets.length > 0)) {
      this.#timer = setInterval(() => this.#check(), interval);
      this.#timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    for (const target of this.#targets()) this.#probe(target);
  }

  /** PINGs a ready connection (one probe at a time); not reconnecting ones, ioredis has those. */
  #probe({ name, client }: HealthCheckTarget): void {
    if (client.status !== "ready" || this.#probing.has(client)) return;
    this.#probing.add(client);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), this.#timeout);
    });
    const answered = client.ping().then(
      () => "answered" as const,
      () => "failed" as const, // the connection broke: ioredis reconnects by itself
    );
    void Promise.race([answered, expired]).then((outcome) => {
      clearTimeout(timer);
      this.#probing.delete(client);
      if (outcome !== "expired" || client.status !== "ready") return;
      this.#onDead(
        name,
        new TimeoutError(
          `Redis did not answer a health-check PING on the ${name} connection within ${this.#timeout} ms (see the \`redisTimeout\` option): reconnecting`,
        ),
      );
      client.disconnect(true);
    });
  }
}
