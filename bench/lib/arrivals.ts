/**
 * Where an update's time goes, seen from the server: the latency from the
 * writer's stamp to the server receiving the update (Redis and the writer's
 * own work), and how long the server's synchronous handling took (parsing,
 * merging, the socket.io emit that writes to every socket of the room).
 */
import { FirstWrite, LastData } from "./first-write";
import { nowUs, Samples, type Summary } from "./stats";

export interface ArrivalSummary {
  /** Writer's stamp → the server has the message, ms. */
  arrival: Summary;
  /** Writer's stamp → the update's bytes arrive on the server's Redis socket, ms. */
  toData: Summary;
  /** The server's synchronous handling of one message, ms. */
  handling: Summary;
  /** From the server having the message to its first socket write (to a client), ms. */
  firstWrite: Summary;
  /**
   * From the update's bytes arriving on the server's Redis socket to that first
   * write, ms: the same span for both servers, whatever each does before its
   * handler (ioredis, QueueEvents).
   */
  fromData: Summary;
}

/** The stamp of a raw message: the last `"t":<number>` in it (meta is written last). */
export function stampOf(raw: string): number | undefined {
  const at = raw.lastIndexOf('"t":');
  if (at < 0) return undefined;
  const t = Number.parseFloat(raw.slice(at + 4, at + 40));
  return Number.isFinite(t) ? t : undefined;
}

export class Arrivals {
  readonly #arrival = new Samples(1_000_000);
  readonly #handling = new Samples(1_000_000);
  readonly #firstWrite = new Samples(1_000_000);
  readonly #fromData = new Samples(1_000_000);
  readonly #toData = new Samples(1_000_000);
  readonly #data = new LastData();
  /** The server's first socket write while it handles a message (this process only). */
  readonly #first = new FirstWrite();

  /** Wraps a message handler: times its arrival (from the stamp) and its run. */
  wrap<A extends unknown[]>(
    stamp: (...args: A) => number | undefined,
    handler: (...args: A) => void,
  ) {
    return (...args: A): void => {
      const start = nowUs();
      this.#first.arm();
      try {
        handler(...args);
      } finally {
        this.#first.disarm();
      }
      this.#handling.push(nowUs() - start);
      // The stamp is read after the handler: finding it in the message is the
      // bench's work, not the server's, and must not delay the update.
      const t = stamp(...args);
      if (t !== undefined) {
        this.#arrival.push(start - t);
        this.#toData.push(this.#data.at - t);
      }
      // Both servers emit synchronously: a write in another tick is not this update's.
      if (!Number.isNaN(this.#first.at)) {
        this.#firstWrite.push(this.#first.at - start);
        this.#fromData.push(this.#first.at - this.#data.at);
      }
    };
  }

  /** Summaries since the last call (which clears them). */
  take(): ArrivalSummary {
    const summary = {
      arrival: this.#arrival.summary(),
      toData: this.#toData.summary(),
      handling: this.#handling.summary(),
      firstWrite: this.#firstWrite.summary(),
      fromData: this.#fromData.summary(),
    };
    this.#arrival.clear();
    this.#toData.clear();
    this.#handling.clear();
    this.#firstWrite.clear();
    this.#fromData.clear();
    return summary;
  }
}
