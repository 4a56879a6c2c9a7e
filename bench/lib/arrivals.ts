/**
 * Where an update's time goes, seen from the server: the latency from the
 * writer's stamp to the server receiving the update (Redis and the writer's
 * own work), and how long the server's synchronous handling took (parsing,
 * merging, the socket.io emit that writes to every socket of the room).
 */
import net from "node:net";
import { nowUs, Samples, type Summary } from "./stats";

export interface ArrivalSummary {
  /** Writer's stamp → the server has the message, ms. */
  arrival: Summary;
  /** The server's synchronous handling of one message, ms. */
  handling: Summary;
  /** From the server having the message to its first socket write (to a client), ms. */
  firstWrite: Summary;
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
  /** nowUs() at which the message being handled arrived, until its first socket write. */
  #handlingSince: number | null = null;

  /**
   * Patches net.Socket's `_write` and `_writev` (in this server process only)
   * to time the first write of each handled message: the update on its way to
   * the first client of the room. (A relay whose emit ran later, in another
   * tick, would show none; both servers emit synchronously.)
   */
  constructor() {
    const proto = net.Socket.prototype as unknown as Record<string, unknown>;
    for (const name of ["_write", "_writev"]) {
      const original = proto[name] as (...args: unknown[]) => unknown;
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- the patched method's own `this` is the socket
      const arrivals = this;
      proto[name] = function (this: net.Socket, ...args: unknown[]) {
        if (arrivals.#handlingSince !== null) {
          arrivals.#firstWrite.push(nowUs() - arrivals.#handlingSince);
          arrivals.#handlingSince = null;
        }
        return original.apply(this, args);
      };
    }
  }

  /** Wraps a message handler: times its arrival (from the stamp) and its run. */
  wrap<A extends unknown[]>(
    stamp: (...args: A) => number | undefined,
    handler: (...args: A) => void,
  ) {
    return (...args: A): void => {
      const start = nowUs();
      const t = stamp(...args);
      if (t !== undefined) this.#arrival.push(start - t);
      this.#handlingSince = start;
      try {
        handler(...args);
      } finally {
        this.#handlingSince = null;
      }
      this.#handling.push(nowUs() - start);
    };
  }

  /** Summaries since the last call (which clears them). */
  take(): ArrivalSummary {
    const summary = {
      arrival: this.#arrival.summary(),
      handling: this.#handling.summary(),
      firstWrite: this.#firstWrite.summary(),
    };
    this.#arrival.clear();
    this.#handling.clear();
    this.#firstWrite.clear();
    return summary;
  }
}
