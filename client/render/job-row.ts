/**
 * One job's row. Built with createElement and textContent only (job names and
 * errors are untrusted text), styled by classes and one CSS custom property set
 * through CSSOM, so it works under a strict Content-Security-Policy.
 *
 *   li.rp-job[data-status]
 *     div.rp-head     span.rp-name, span.rp-state, span.rp-actions (room for a cancel button)
 *     div.rp-bar[role=progressbar]   div.rp-fill (width from --rp-fraction)
 *     div.rp-meta     span.rp-percent, span.rp-count, span.rp-time
 *     p.rp-error
 *     ul.rp-children  (child jobs, nested under their parent)
 */
import type { JobValue } from "../../shared/job";
import { ago, formatCount, timeLeft } from "./format";
import { fill, type Labels } from "./labels";
import { barFraction, motionHorizon, trueFraction } from "./motion";

/** What every row of one list shares. */
export interface RowContext {
  labels: Labels;
  locale: string | undefined;
  /** The tracker's write interval the motion assumes (ms). */
  interval: number;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  parent?: Element,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  parent?.append(node);
  return node;
}

function setText(node: Element, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export class JobRow {
  readonly element: HTMLLIElement;
  /** Holds per-job controls (a cancel button, later). */
  readonly actions: HTMLSpanElement;
  /** Holds the rows of this job's child jobs. */
  readonly children: HTMLUListElement;

  readonly #ctx: RowContext;
  readonly #name: HTMLSpanElement;
  readonly #state: HTMLSpanElement;
  readonly #bar: HTMLDivElement;
  readonly #percent: HTMLSpanElement;
  readonly #count: HTMLSpanElement;
  readonly #time: HTMLSpanElement;
  readonly #error: HTMLParagraphElement;
  #job: JobValue;
  #receivedAt = 0;
  #horizon = 0;
  #shown = -1;

  constructor(job: JobValue, ctx: RowContext) {
    this.#ctx = ctx;
    this.#job = job;
    const li = (this.element = el("li", "rp-job"));
    li.dataset.jobId = job.id;
    const head = el("div", "rp-head", li);
    this.#name = el("span", "rp-name", head);
    this.#state = el("span", "rp-state", head);
    this.actions = el("span", "rp-actions", head);
    this.#bar = el("div", "rp-bar", li);
    this.#bar.setAttribute("role", "progressbar");
    this.#bar.setAttribute("aria-valuemin", "0");
    this.#bar.setAttribute("aria-valuemax", "100");
    el("div", "rp-fill", this.#bar);
    const meta = el("div", "rp-meta", li);
    this.#percent = el("span", "rp-percent", meta);
    this.#count = el("span", "rp-count", meta);
    this.#time = el("span", "rp-time", meta);
    this.#error = el("p", "rp-error", li);
    this.children = el("ul", "rp-children", li);
  }

  /** The job as last rendered. */
  get job(): JobValue {
    return this.#job;
  }

  /**
   * Shows a (new) value of the job. `serverNow` is the estimated gateway time
   * (for the words), `localNow` the `performance.now()` the value arrived at
   * (where the bar's motion starts).
   */
  update(job: JobValue, serverNow: number, localNow: number, fresh = true): void {
    const { labels, locale } = this.#ctx;
    this.#job = job;
    if (fresh) this.#receivedAt = localNow;
    this.#horizon = motionHorizon(job, this.#ctx.interval);
    const status = job.stalled === true ? "stalled" : job.status;
    const li = this.element;
    if (li.dataset.status !== status) li.dataset.status = status;
    li.classList.toggle("rp-cancel-requested", job.cancel_requested_at !== undefined);

    const name = job.name || fill(labels.untitled, { id: job.id.slice(0, 8) });
    setText(this.#name, name);
    this.#name.title = name;
    const cancel =
      job.cancel_requested_at !== undefined && job.status === "running"
        ? ` · ${labels.cancelRequested}`
        : "";
    setText(this.#state, labels[status] + cancel);

    const percent = job.status === "completed" ? 100 : Math.round(job.percent);
    this.#bar.setAttribute("aria-valuenow", String(percent));
    this.#bar.setAttribute("aria-label", name);
    setText(this.#percent, `${percent}%`);
    setText(this.#count, `${formatCount(job.count, locale)} / ${formatCount(job.total, locale)}`);

    const error = job.status === "failed" ? (job.error ?? "") : "";
    setText(this.#error, error);
    this.#error.hidden = error === "";

    this.snap();
    this.tick(serverNow);
  }

  /** Moves the bar for a frame at `localNow`; true while it has further to go. */
  frame(localNow: number): boolean {
    const elapsed = localNow - this.#receivedAt;
    this.#draw(barFraction(this.#job, elapsed, this.#ctx.interval));
    return elapsed < this.#horizon;
  }

  /** Shows the stored truth (no extrapolation). */
  snap(): void {
    this.#draw(trueFraction(this.#job));
  }

  /** Refreshes the words that depend on the time ("about 2 minutes left"). */
  tick(serverNow: number): void {
    const { labels, locale } = this.#ctx;
    const job = this.#job;
    let text: string;
    if (job.status !== "running") {
      const end = Date.parse(job.finished_at ?? job.updated_at);
      text = fill(labels.finished, { ago: ago(serverNow - end, labels, locale) });
    } else if (job.stalled === true) {
      const since = serverNow - Date.parse(job.updated_at);
      text = fill(labels.lastUpdate, { ago: ago(since, labels, locale) });
    } else if (job.estimated_finished_at === null) {
      text = labels.estimating;
    } else {
      text = timeLeft(Date.parse(job.estimated_finished_at) - serverNow, labels, locale);
    }
    setText(this.#time, text);
  }

  #draw(fraction: number): void {
    // Rounded to 1/10000 so that tiny steps do not restyle the bar every frame.
    const value = Math.round(fraction * 10_000) / 10_000;
    if (value === this.#shown) return;
    this.#shown = value;
    this.#bar.style.setProperty("--rp-fraction", String(value));
  }
}
