/**
 * Per-room coalescing of progress updates: an update for a room that sent
 * nothing within the last window goes out at once; updates that come sooner
 * are merged (latest value per job wins) and sent as one event when the window
 * since the last send closes. Sparse updates thus see no added delay and cost
 * no timer, bursts become one event per window, and an idle room holds nothing
 * but the time of its last send.
 */
import type { JobPatch } from "../shared/job";
import { emptyMap } from "./reader";

interface Room {
  /** performance.now() of the last event sent. */
  sentAt: number;
  pending: JobPatch | null;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Sends one `progress` event to a scope's room. `text`, when given, is the
 * exact JSON of `{ scope, jobs: patch }` (the pub/sub message it came from),
 * which the emitter may send as it is.
 */
export type FanoutSend = (scope: string, patch: JobPatch, text?: string) => void;

export class Fanout {
  readonly #window: number;
  readonly #send: FanoutSend;
  readonly #rooms = new Map<string, Room>();

  /**
   * @param window the coalescing window in ms (0 sends every update at once).
   * @param send emits one `progress` event to a scope's room.
   */
  constructor(window: number, send: FanoutSend) {
    this.#window = window;
    this.#send = send;
  }

  /**
   * Queues changes for a scope (already filtered by `seq`, so later means
   * newer); `text` is the message's JSON when `patch` is all of it.
   */
  push(scope: string, patch: JobPatch, text?: string): void {
    if (this.#window <= 0) {
      this.#send(scope, patch, text);
      return;
    }
    const now = performance.now();
    const room = this.#rooms.get(scope);
    if (room === undefined) {
      this.#rooms.set(scope, { sentAt: now, pending: null, timer: undefined });
      this.#send(scope, patch, text);
      return;
    }
    if (room.pending === null && now - room.sentAt >= this.#window) {
      room.sentAt = now;
      this.#send(scope, patch, text);
      return;
    }
    room.pending ??= emptyMap();
    Object.assign(room.pending, patch);
    if (room.timer === undefined) {
      // The clock may not go back (monotonic), but never wait longer than a window.
      const wait = Math.min(this.#window, Math.max(0, room.sentAt + this.#window - now));
      room.timer = setTimeout(() => this.#flush(scope), wait);
      room.timer.unref();
    }
  }

  /** Forgets a scope (a snapshot supersedes what is pending, or nobody watches any more). */
  drop(scope: string): void {
    const room = this.#rooms.get(scope);
    if (room === undefined) return;
    clearTimeout(room.timer);
    this.#rooms.delete(scope);
  }

  close(): void {
    for (const room of this.#rooms.values()) clearTimeout(room.timer);
    this.#rooms.clear();
  }

  #flush(scope: string): void {
    const room = this.#rooms.get(scope);
    if (room === undefined) return;
    room.timer = undefined;
    const patch = room.pending;
    if (patch === null) return;
    room.pending = null;
    room.sentAt = performance.now();
    this.#send(scope, patch);
  }
}
