/** A JobValue fixture for unit tests (no Redis): a running job whose count and percent are its `seq`. */
import type { JobValue } from "../../shared/job";

/**
 * A running job out of 100 with `percent` and `count` equal to `seq`, started
 * at 2024-01-01T00:00:00Z and updated a second later; `extra` overrides any field.
 */
export function job(id: string, seq: number, extra: Partial<JobValue> = {}): JobValue {
  return {
    id,
    percent: seq,
    count: seq,
    total: 100,
    started_at: "2024-01-01T00:00:00.000Z",
    estimated_finished_at: null,
    finished_at: null,
    status: "running",
    updated_at: "2024-01-01T00:00:01.000Z",
    seq,
    ...extra,
  };
}
