/**
 * Drives the bars' motion with requestAnimationFrame, only while some bar has
 * further to go, never while the tab is hidden (visibilitychange) and never
 * under `prefers-reduced-motion: reduce` (the bars then move only when an
 * update arrives).
 */
import type { JobRow } from "./job-row";

export class Animator {
  readonly #rows: () => Iterable<JobRow>;
  readonly #reduced: MediaQueryList | undefined;
  #frame = 0;

  constructor(rows: () => Iterable<JobRow>) {
    this.#rows = rows;
    this.#reduced = globalThis.matchMedia?.("(prefers-reduced-motion: reduce)");
    document.addEventListener("visibilitychange", this.#onChange);
    this.#reduced?.addEventListener?.("change", this.#onChange);
  }

  /** False under reduced motion or while the document is hidden. */
  get enabled(): boolean {
    return this.#reduced?.matches !== true && document.visibilityState !== "hidden";
  }

  /** Makes sure a frame is coming (call after rows changed). */
  request(): void {
    if (this.#frame !== 0 || !this.enabled) return;
    this.#frame = requestAnimationFrame(this.#step);
  }

  destroy(): void {
    cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    document.removeEventListener("visibilitychange", this.#onChange);
    this.#reduced?.removeEventListener?.("change", this.#onChange);
  }

  readonly #step = (): void => {
    this.#frame = 0;
    if (!this.enabled) return;
    const now = performance.now();
    let more = false;
    for (const row of this.#rows()) if (row.frame(now)) more = true;
    if (more) this.request();
  };

  readonly #onChange = (): void => {
    if (this.enabled) {
      this.request();
    } else {
      cancelAnimationFrame(this.#frame);
      this.#frame = 0;
      for (const row of this.#rows()) row.snap();
    }
  };
}
