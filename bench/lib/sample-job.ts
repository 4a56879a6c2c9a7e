/**
 * A job value of the gateway's wire shape and size, for the servers that do
 * not read Redis: the fields, their order and their magnitudes as the write
 * script stores a bench tracker's job (a UUID id, a rate with 14 significant
 * digits, heartbeat and retention), so that a client parses as many bytes per
 * event from either server.
 */
import type { JobValue } from "../../shared/job";

export function sampleJob(id: string): JobValue {
  const now = new Date().toISOString();
  return {
    seq: 0,
    count: 420,
    total: 1_000_000,
    percent: 0,
    status: "running",
    updated_at: now,
    finished_at: null,
    estimated_finished_at: now,
    rate: 361.8323308604,
    heartbeat: 3_600_000,
    retention: 86_400_000,
    id,
    started_at: now,
    meta: { t: 0 },
  };
}
