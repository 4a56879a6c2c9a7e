/**
 * Socket times in this process, by patching net.Socket until `restore()`:
 * `FirstWrite`, the first socket write after a moment (`_write` and `_writev`,
 * what `write` and a corked socket's `uncork` end in), and `LastData`, the
 * latest `data` event (bytes read, before anyone parses them).
 */
import net from "node:net";
import { nowUs } from "./stats";

export class FirstWrite {
  #armed = false;
  /** nowUs() of the first write since `arm()`, NaN until there is one. */
  at = Number.NaN;
  readonly #restore: () => void;

  constructor() {
    const proto = net.Socket.prototype as unknown as Record<string, unknown>;
    const originals = { _write: proto._write, _writev: proto._writev };
    for (const name of ["_write", "_writev"] as const) {
      const original = originals[name] as (...args: unknown[]) => unknown;
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- the patched method's own `this` is the socket
      const self = this;
      proto[name] = function (this: net.Socket, ...args: unknown[]) {
        if (self.#armed) {
          self.#armed = false;
          self.at = nowUs();
        }
        return original.apply(this, args);
      };
    }
    this.#restore = () => Object.assign(proto, originals);
  }

  /** Starts waiting for the next write. */
  arm(): void {
    this.#armed = true;
    this.at = Number.NaN;
  }

  /** Stops waiting (a write after this is not timed). */
  disarm(): void {
    this.#armed = false;
  }

  restore(): void {
    this.#restore();
  }
}

/**
 * The time of the latest `data` event of any socket in this process
 * (net.Socket's `emit` is patched until `restore()`): in a server, when the
 * bytes of the update it is handling came in from Redis, before any parsing.
 */
export class LastData {
  /** nowUs() of the latest data event, NaN before the first. */
  at = Number.NaN;
  readonly #restore: () => void;

  constructor() {
    const proto = net.Socket.prototype;
    const emit = proto.emit as (this: net.Socket, ...args: unknown[]) => boolean;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the patched method's own `this` is the socket
    const self = this;
    proto.emit = function (this: net.Socket, ...args: unknown[]) {
      if (args[0] === "data") self.at = nowUs();
      return emit.apply(this, args);
    } as typeof proto.emit;
    this.#restore = () => {
      proto.emit = emit;
    };
  }

  restore(): void {
    this.#restore();
  }
}
