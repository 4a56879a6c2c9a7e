/** A job value of the gateway's wire shape, for the servers that do not read Redis. */
import type { JobValue } from "../../shared/job";

export function sampleJob(id: string): JobValue {
  const now = new Date().toISOString();
  return {
    id,
    percent: 42,
    count: 420,
    total: 1000,
    started_at: now,
    estimated_finished_at: now,
    finished_at: null,
    status: "running",
    updated_at: now,
    seq: 0,
    rate: 12.5,
    heartbeat: 30000,
    meta: { t: 0 },
  };
}
