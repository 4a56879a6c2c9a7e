/**
 * Where a running job's bar stands between two updates. Pure functions, so the
 * rule can be tested without a browser.
 *
 * The tracker writes when the integer percent changed AND at least `interval`
 * ms passed (DESIGN.md, "Throttling rule"). So after an update, the next one is
 * expected once both hold: after max(interval, time the rate needs to reach the
 * next percent boundary). The bar advances at the job's `rate` until that
 * moment and then waits, so it never runs past what the next update is
 * expected to say; when the update arrives the bar snaps to its truth.
 */
import { boundaryAfter, type JobValue } from "../../shared/job";

/** A running bar never shows more than this before the job says it is complete. */
export const MAX_RUNNING_FRACTION = 0.99;

/**
 * The stored truth: count / total (1 for a completed job or a total of 0); for
 * a parent, the exact `fraction` of its children.
 */
export function trueFraction(job: JobValue): number {
  if (job.status === "completed") return 1;
  if (typeof job.fraction === "number") return Math.min(1, Math.max(0, job.fraction));
  if (job.total <= 0) return 1;
  return Math.min(1, Math.max(0, job.count / job.total));
}

/** The count at which the integer percent next changes (the tracker's own rule). */
export function nextBoundary(job: JobValue): number {
  return boundaryAfter(job.percent, job.total);
}

/**
 * How long after an update the bar may keep moving (ms); 0 when it should not
 * move at all (not running, stalled, no rate yet, or already at the end).
 */
export function motionHorizon(job: JobValue, interval: number): number {
  const rate = job.rate;
  // A parent moves with its children's updates, not at a rate of its own.
  if (job.status !== "running" || job.stalled === true || job.children !== undefined) return 0;
  if (rate === undefined || !(rate > 0) || job.total <= 0 || job.count >= job.total) return 0;
  const toBoundary = ((nextBoundary(job) - job.count) / rate) * 1000;
  return Math.max(interval, toBoundary);
}

/** The fraction (0..1) the bar shows `elapsed` ms after the update carrying `job` arrived. */
export function barFraction(job: JobValue, elapsed: number, interval: number): number {
  return barFractionAt(job, elapsed, motionHorizon(job, interval), trueFraction(job));
}

/**
 * barFraction with the per-update parts (`horizon` from motionHorizon, `truth`
 * from trueFraction) computed once by the caller, for the animation loop.
 */
export function barFractionAt(
  job: JobValue,
  elapsed: number,
  horizon: number,
  truth: number,
): number {
  if (horizon === 0 || elapsed <= 0) return truth;
  const predicted = job.count + ((job.rate ?? 0) * Math.min(elapsed, horizon)) / 1000;
  return Math.max(truth, Math.min(predicted / job.total, MAX_RUNNING_FRACTION));
}
