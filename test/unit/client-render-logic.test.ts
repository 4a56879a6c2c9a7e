/** The renderer's pure logic: bar motion, words for times, row order. */
import type { JobMap, JobValue } from "../../shared/job";
import { ago, formatCount, roughDuration, timeLeft } from "../../client/render/format";
import { ProgressClientError } from "../../client/progress-client-error";
import { cancelReason, DEFAULT_LABELS, fill, resolveLabels } from "../../client/render/labels";
import {
  barFraction,
  MAX_RUNNING_FRACTION,
  motionHorizon,
  nextBoundary,
  trueFraction,
} from "../../client/render/motion";
import { arrange, compareJobs } from "../../client/render/order";
import { job as jobValue } from "../helpers/jobs";

function job(id: string, extra: Partial<JobValue> = {}): JobValue {
  const at = "2024-01-01T00:00:10.000Z";
  return jobValue(id, 1, { percent: 10, count: 100, total: 1000, updated_at: at, ...extra });
}

describe("bar motion", () => {
  test("without a rate, not running, or stalled, the bar shows the truth and does not move", () => {
    expect(barFraction(job("a"), 5000, 2000)).toBe(0.1);
    expect(motionHorizon(job("a", { rate: 50, status: "failed" }), 2000)).toBe(0);
    expect(motionHorizon(job("a", { rate: 50, stalled: true }), 2000)).toBe(0);
    expect(motionHorizon(job("a", { rate: 0 }), 2000)).toBe(0);
    expect(trueFraction(job("a", { status: "completed", count: 3 }))).toBe(1);
    expect(trueFraction(job("a", { total: 0, count: 0 }))).toBe(1);
  });

  test("moves at the rate until the next expected write, then waits there", () => {
    // 50 items/s; the next percent boundary (110) is 0.2 s away, so the write is
    // due after the 2 s interval, when the rate predicts 100 + 100 = 200 items.
    const j = job("a", { rate: 50 });
    expect(nextBoundary(j)).toBe(110);
    expect(motionHorizon(j, 2000)).toBe(2000);
    expect(barFraction(j, 0, 2000)).toBe(0.1);
    expect(barFraction(j, 1000, 2000)).toBeCloseTo(0.15);
    expect(barFraction(j, 2000, 2000)).toBeCloseTo(0.2);
    expect(barFraction(j, 60_000, 2000)).toBeCloseTo(0.2);
  });

  test("a slow job stops at the next percent boundary (no write happens before it)", () => {
    // 1 item/s: 10 s to reach 110, longer than the interval.
    const j = job("a", { rate: 1 });
    expect(motionHorizon(j, 2000)).toBe(10_000);
    expect(barFraction(j, 5000, 2000)).toBeCloseTo(0.105);
    expect(barFraction(j, 1e9, 2000)).toBeCloseTo(0.11);
  });

  test("a running bar never shows the end before the job says it completed", () => {
    const j = job("a", { percent: 98, count: 985, rate: 100 });
    expect(barFraction(j, 10_000, 2000)).toBe(MAX_RUNNING_FRACTION);
    const past = job("a", { percent: 99, count: 995, rate: 100 });
    expect(barFraction(past, 10_000, 2000)).toBe(0.995);
  });
});

describe("words", () => {
  test("rough durations use the unit a person would", () => {
    expect(roughDuration(24_000)).toEqual([20, "second"]);
    expect(roughDuration(54_000)).toEqual([50, "second"]);
    expect(roughDuration(60_000)).toEqual([1, "minute"]);
    expect(roughDuration(125_000)).toEqual([2, "minute"]);
    expect(roughDuration(3 * 3600_000)).toEqual([3, "hour"]);
    expect(roughDuration(3 * 86400_000)).toEqual([3, "day"]);
  });

  test("time left reads 'about 2 minutes left'", () => {
    expect(timeLeft(125_000, DEFAULT_LABELS, "en")).toBe("about 2 minutes left");
    expect(timeLeft(3600_000, DEFAULT_LABELS, "en")).toBe("about 60 minutes left");
    expect(timeLeft(1, DEFAULT_LABELS, "en")).toBe("a few seconds left");
    expect(timeLeft(-5000, DEFAULT_LABELS, "en")).toBe("a few seconds left");
    expect(timeLeft(30_000, DEFAULT_LABELS, "en")).toBe("about 30 seconds left");
    expect(timeLeft(70_000, DEFAULT_LABELS, "en")).toBe("about 1 minute left");
  });

  test("ago and counts go through Intl", () => {
    expect(ago(180_000, DEFAULT_LABELS, "en")).toBe("3 minutes ago");
    expect(ago(2000, DEFAULT_LABELS, "en")).toBe("just now");
    expect(formatCount(12500, "en")).toBe("12,500");
    expect(formatCount(12500, "de")).toBe("12.500");
  });

  test("labels merge over the defaults and fill placeholders", () => {
    const labels = resolveLabels({
      running: "Läuft",
      errors: { forbidden: "Nein: {scope}" } as never,
    });
    expect(labels.running).toBe("Läuft");
    expect(labels.completed).toBe("Completed");
    expect(fill(labels.errors.forbidden, { scope: "user:1" })).toBe("Nein: user:1");
    expect(labels.errors.unavailable).toBe(DEFAULT_LABELS.errors.unavailable);
  });

  test("a refused cancel's reason is always a label, never the error's own (English) message", () => {
    const labels = resolveLabels({
      cancelUnavailable: "Dienst nicht erreichbar.",
      errors: { conflict: "schon beendet." } as never,
    });
    const refused = (code: ProgressClientError["code"]) =>
      cancelReason(new ProgressClientError(code, `Cannot cancel j in user:1: ${code}`), labels);
    expect(refused("unavailable")).toBe("Dienst nicht erreichbar.");
    expect(refused("conflict")).toBe("schon beendet.");
    expect(refused("not_found")).toBe(DEFAULT_LABELS.errors.not_found);
    expect(refused("invalid_argument")).toBe(DEFAULT_LABELS.errors.invalid_argument);
    expect(refused("forbidden")).toBe(DEFAULT_LABELS.cancelForbidden);
    expect(refused("rate_limited")).toBe(DEFAULT_LABELS.cancelRateLimited);
    expect(refused("unauthorized")).toBe(DEFAULT_LABELS.cancelError);
    expect(cancelReason(new Error("socket hang up"), labels)).toBe(DEFAULT_LABELS.cancelError);
    expect(cancelReason("boom", labels)).toBe(DEFAULT_LABELS.cancelError);
  });
});

describe("order", () => {
  test("running jobs first (newest started first), then most recently finished", () => {
    const jobs = [
      job("done-old", { status: "completed", finished_at: "2024-01-01T01:00:00.000Z" }),
      job("run-old", { started_at: "2024-01-01T00:00:00.000Z" }),
      job("failed-new", { status: "failed", finished_at: "2024-01-01T03:00:00.000Z" }),
      job("run-new", { started_at: "2024-01-01T02:00:00.000Z" }),
      job("stalled", { started_at: "2024-01-01T01:00:00.000Z", stalled: true }),
    ];
    expect(jobs.sort(compareJobs).map((j) => j.id)).toEqual([
      "run-new",
      "stalled",
      "run-old",
      "failed-new",
      "done-old",
    ]);
  });

  test("child jobs nest under their parent; orphans and cycles stay at the top level", () => {
    const jobs: JobMap = {
      p: job("p"),
      c1: job("c1", { parent: "p", started_at: "2024-01-01T00:00:01.000Z" }),
      c2: job("c2", { parent: "p", started_at: "2024-01-01T00:00:02.000Z" }),
      g: job("g", { parent: "c1" }),
      orphan: job("orphan", { parent: "gone" }),
      x: job("x", { parent: "y" }),
      y: job("y", { parent: "x" }),
    };
    const { roots, children } = arrange(jobs);
    expect(roots.map((j) => j.id).sort()).toEqual(["orphan", "p", "x", "y"]);
    expect(children.get("p")?.map((j) => j.id)).toEqual(["c2", "c1"]);
    expect(children.get("c1")?.map((j) => j.id)).toEqual(["g"]);
  });
});
