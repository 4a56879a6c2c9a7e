/**
 * One job's row. Built with createElement and textContent only (job names and
 * errors are untrusted text), styled by classes and one CSS custom property set
 * through CSSOM, so it works under a strict Content-Security-Policy.
 *
 *   li.rp-job[data-status]
 *     div.rp-head     span.rp-name, span.rp-state,
 *                     span.rp-actions > button.rp-cancel, span.rp-action-error
 *     div.rp-bar[role=progressbar]   div.rp-fill (width from --rp-fraction)
 *     div.rp-meta     span.rp-percent, span.rp-count, button.rp-toggle[aria-expanded], span.rp-time
 *     p.rp-error
 *     ul.rp-children  (child jobs, nested under their parent; collapsed until the toggle opens it)
 *
 * The cancel button shows only when the gateway said the token may cancel
 * (the subscribe ack's `can_cancel`) and the job is running with no request
 * yet; the state then reads "Running · cancel requested…" until the worker
 * stops and the status becomes "Canceled".
 */
import type { JobValue } from "../../shared/job";
import { ago, formatCount, timeLeft } from "./format";
import { cancelReason, fill, type Labels } from "./labels";
import { barFractionAt, motionHorizon, trueFraction } from "./motion";

/** What every row of one list shares. */
export interface RowContext {
  labels: Labels;
  locale: string | undefined;
  /** The tracker's write interval the motion assumes (ms). */
  interval: number;
  /** True when the list's client may cancel its scope's jobs. */
  canCancel?: () => boolean;
  /** Sends a cancel request for a job of the list's scope. */
  cancel?: (id: string) => Promise<unknown>;
}

/** True for a `children` aggregate whose counts are numbers (values in Redis are untrusted). */
function isSummary(value: JobValue["children"]): value is NonNullable<JobValue["children"]> {
  if (typeof value !== "object" || value === null) return false;
  return [value.total, value.completed, value.failed, value.canceled].every(
    (n) => typeof n === "number" && Number.isFinite(n),
  );
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
  /** Holds per-job controls (the cancel button). */
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
  #cancelButton: HTMLButtonElement | undefined;
  #cancelError: HTMLSpanElement | undefined;
  /** A cancel request is on its way, or was accepted (before the value shows it). */
  #canceling: "idle" | "sending" | "sent" = "idle";
  #toggle: HTMLButtonElement | undefined;
  #expanded = false;
  #receivedAt = 0;
  #horizon = 0;
  /** trueFraction of the job as last rendered. */
  #truth = 0;
  #shown = -1;

  constructor(job: JobValue, ctx: RowContext) {
    this.#ctx = ctx;
    this.#job = job;
    this.#truth = trueFraction(job);
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
    // Children are collapsed by default; the toggle shows their counts.
    this.children.hidden = true;
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
    const { locale } = this.#ctx;
    this.#job = job;
    if (fresh) this.#receivedAt = localNow;
    this.#horizon = motionHorizon(job, this.#ctx.interval);
    this.#truth = trueFraction(job);
    this.#showState();
    const name = this.#displayName();
    setText(this.#name, name);
    this.#name.title = name;

    const percent = job.status === "completed" ? 100 : Math.round(job.percent);
    this.#bar.setAttribute("aria-valuenow", String(percent));
    this.#bar.setAttribute("aria-label", name);
    setText(this.#percent, `${percent}%`);
    setText(this.#count, `${formatCount(job.count, locale)} / ${formatCount(job.total, locale)}`);

    const error = job.status === "failed" ? (job.error ?? "") : "";
    setText(this.#error, error);
    this.#error.hidden = error === "";
    // A parent's own count says little; its toggle shows its children's.
    this.#count.hidden = isSummary(job.children) && job.children.total > 0;

    this.refreshActions();
    this.snap();
    this.tick(serverNow);
  }

  /** The job's name, or a placeholder naming its id. */
  #displayName(): string {
    return this.#job.name || fill(this.#ctx.labels.untitled, { id: this.#job.id.slice(0, 8) });
  }

  /** Moves the bar for a frame at `localNow`; true while it has further to go. */
  frame(localNow: number): boolean {
    const elapsed = localNow - this.#receivedAt;
    this.#draw(barFractionAt(this.#job, elapsed, this.#horizon, this.#truth));
    return elapsed < this.#horizon;
  }

  /** Shows the stored truth (no extrapolation). */
  snap(): void {
    this.#draw(this.#truth);
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

  /** The status badge and data-status; "Running · cancel requested…" once a cancel was asked. */
  #showState(): void {
    const job = this.#job;
    const { labels } = this.#ctx;
    const status = job.stalled === true ? "stalled" : job.status;
    const li = this.element;
    if (li.dataset.status !== status) li.dataset.status = status;
    const requested = job.cancel_requested_at !== undefined || this.#canceling === "sent";
    li.classList.toggle("rp-cancel-requested", requested);
    const cancel = requested && job.status === "running" ? ` · ${labels.cancelRequested}` : "";
    setText(this.#state, labels[status] + cancel);
  }

  /** Shows or hides the cancel button for the job's state and the client's grant. */
  refreshActions(): void {
    const job = this.#job;
    const show =
      this.#ctx.canCancel?.() === true &&
      this.#ctx.cancel !== undefined &&
      job.status === "running" &&
      // A stalled job's worker is gone: nobody would answer the request.
      job.stalled !== true &&
      job.cancel_requested_at === undefined &&
      this.#canceling !== "sent";
    if (!show) {
      this.#cancelButton?.remove();
      this.#cancelButton = undefined;
      if (job.status !== "running") this.#showCancelError("");
      return;
    }
    const { labels } = this.#ctx;
    let button = this.#cancelButton;
    if (button === undefined) {
      button = this.#cancelButton = document.createElement("button");
      button.type = "button";
      button.className = "rp-cancel";
      button.addEventListener("click", () => this.#sendCancel());
      this.actions.prepend(button);
    }
    const sending = this.#canceling === "sending";
    button.disabled = sending;
    setText(button, sending ? labels.canceling : labels.cancel);
    button.setAttribute("aria-label", fill(labels.cancelJob, { name: this.#displayName() }));
  }

  /**
   * Shows the counts of this job's children on the toggle that opens them
   * (from the parent's `children` aggregate when it has one, else from the
   * child rows present); no toggle without children.
   */
  setChildren(children: readonly JobValue[]): void {
    const summary = this.#job.children;
    let total = children.length;
    let done = children.filter((c) => c.status !== "running").length;
    let failed = children.filter((c) => c.status === "failed").length;
    if (isSummary(summary) && summary.total > 0) {
      total = summary.total;
      done = summary.completed + summary.failed + summary.canceled;
      failed = summary.failed;
    }
    if (total === 0 && children.length === 0) {
      this.#toggle?.remove();
      this.#toggle = undefined;
      return;
    }
    const { labels } = this.#ctx;
    let toggle = this.#toggle;
    if (toggle === undefined) {
      toggle = this.#toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "rp-toggle";
      toggle.setAttribute("aria-expanded", "false");
      toggle.addEventListener("click", () => {
        this.#expanded = !this.#expanded;
        this.children.hidden = !this.#expanded;
        this.#toggle?.setAttribute("aria-expanded", String(this.#expanded));
      });
      this.#count.after(toggle);
    }
    let text = fill(labels.childrenDone, { done: String(done), total: String(total) });
    if (failed > 0) text += ` · ${fill(labels.childrenFailed, { failed: String(failed) })}`;
    setText(toggle, text);
  }

  #sendCancel(): void {
    const send = this.#ctx.cancel;
    if (send === undefined || this.#canceling !== "idle") return;
    this.#canceling = "sending";
    this.#showCancelError("");
    this.refreshActions();
    // Through a promise: client.cancel throws at once for an id it refuses to
    // send (ids come from Redis), which would leave the button "Cancelling…".
    Promise.resolve(this.#job.id)
      .then(send)
      .then(
        () => {
          this.#canceling = "sent";
          // Shows "cancel requested…" now; the job's value confirms it shortly.
          this.#showState();
          this.refreshActions();
        },
        (error: unknown) => {
          this.#canceling = "idle";
          const { labels } = this.#ctx;
          this.#showCancelError(fill(labels.cancelFailed, { reason: cancelReason(error, labels) }));
          this.refreshActions();
        },
      );
  }

  #showCancelError(text: string): void {
    if (text === "") {
      this.#cancelError?.remove();
      this.#cancelError = undefined;
      return;
    }
    const span = (this.#cancelError ??= el("span", "rp-action-error", this.actions));
    span.setAttribute("role", "alert");
    setText(span, text);
  }

  #draw(fraction: number): void {
    // Rounded to 1/10000 so that tiny steps do not restyle the bar every frame.
    const value = Math.round(fraction * 10_000) / 10_000;
    if (value === this.#shown) return;
    this.#shown = value;
    this.#bar.style.setProperty("--rp-fraction", String(value));
  }
}
