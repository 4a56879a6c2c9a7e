/**
 * Per-room coalescing of progress updates: the first update for a room goes
 * out at once and opens a window; updates within the window are merged
 * (latest value per job wins) and sent as one event when it closes, which
 * opens the next window. Sparse updates thus see no added delay, bursts
 * become one event per window, and an idle room holds nothing.
 */
import type { JobPatch } from "../shared/job";
import { emptyMap } from "./reader";

interface Window {
  pending: JobPatch | null;
  timer: NodeJS.Timeout;
}

export class Fanout {
  readonly #window: number;
  readonly #send: (scope: string, patch: JobPatch) => void;
  readonly #windows = new Map<string, Window>();

  /**
   * @param window the coalescing window in ms (0 sends every update at once).
   * @param send emits one `progress` event to a scope's room.
   */
  constructor(window: number, send: (scope: string, patch: JobPatch) => void) {
    this.#window = window;
    this.#send = send;
  }

  /** Queues changes for a scope (already filtered by `seq`, so later means newer). */
  push(scope: string, patch: JobPatch): void {
    const open = this.#windows.get(scope);
    if (open !== undefined) {
      open.pending ??= emptyMap();
      Object.assign(open.pending, patch);
      return;
    }
    this.#send(scope, patch);
    if (this.#window <= 0) return;
    const timer = setTimeout(() => this.#flush(scope), this.#window);
    timer.unref();
    this.#windows.set(scope, { pending: null, timer });
  }

  /** Forgets what is pending for a scope (a snapshot supersedes it, or nobody watches any more). */
  drop(scope: string): void {
    const open = this.#windows.get(scope);
    if (open === undefined) return;
    clearTimeout(open.timer);
    this.#windows.delete(scope);
  }

  close(): void {
    for (const open of this.#windows.values()) clearTimeout(open.timer);
    this.#windows.clear();
  }

  #flush(scope: string): void {
    const open = this.#windows.get(scope);
    if (open === undefined) return;
    if (open.pending === null) {
      this.#windows.delete(scope);
      return;
    }
    const patch = open.pending;
    open.pending = null;
    this.#send(scope, patch);
    open.timer.refresh();
  }
}
