/** The renderer's logic for parents (aggregate fraction, no motion of their own) and cancel words. */
import type { JobValue } from "../../shared/job";
import { DEFAULT_LABELS, fill } from "../../client/render/labels";
import { barFraction, motionHorizon, trueFraction } from "../../client/render/motion";
import { toClientErrorCode } from "../../client/codes";
import { job as jobValue } from "../helpers/jobs";

function job(extra: Partial<JobValue> = {}): JobValue {
  const at = "2024-01-01T00:00:10.000Z";
  return jobValue("p", 1, { percent: 0, count: 0, total: 3, updated_at: at, ...extra });
}

const children = { total: 3, completed: 1, failed: 0, canceled: 0, weight: 4, progress: 2e9 };

test("a parent's bar shows its children's exact fraction, not its own count, and does not extrapolate", () => {
  const parent = job({ fraction: 0.5, percent: 50, children, rate: 100 });
  expect(trueFraction(parent)).toBe(0.5);
  expect(motionHorizon(parent, 2000)).toBe(0);
  expect(barFraction(parent, 5000, 2000)).toBe(0.5);
  expect(trueFraction({ ...parent, status: "completed" })).toBe(1);
  expect(trueFraction(job({ count: 1 }))).toBeCloseTo(1 / 3);
});

test("cancel words and codes", () => {
  expect(DEFAULT_LABELS.cancelRequested).toBe("cancel requested…");
  expect(fill(DEFAULT_LABELS.childrenDone, { done: "2", total: "3" })).toBe("2 of 3 done");
  expect(fill(DEFAULT_LABELS.cancelFailed, { reason: DEFAULT_LABELS.errors.conflict })).toBe(
    "Could not cancel: the job has already ended.",
  );
  for (const code of ["not_found", "conflict", "invalid_argument", "forbidden"]) {
    expect(toClientErrorCode(code)).toBe(code);
  }
});
