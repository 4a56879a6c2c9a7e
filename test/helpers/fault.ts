/**
 * Pieces shared by the fault suites (test/fault/): child processes that report
 * JSON lines (the fault worker, the gateway CLI), a client's view of a scope
 * that checks `seq` never goes back, the stored truth, and Redis command counts.
 *
 * Crash checks: a child process must exit as told with nothing on stderr;
 * inside Jest an unhandled rejection fails the running test by itself.
 */
import { join } from "node:path";
import type { Redis } from "ioredis";
import type { JobMap, JobValue } from "../../shared/job";
import { DEFAULT_PREFIX } from "../../shared/keys";
import { JsonProcess, ROOT } from "./json-process";

export { ScopeView, sameJobs } from "./scope-view";
export { GatewayProcess } from "./gateway-process";
export { JsonProcess, killChildren } from "./json-process";

export interface WorkerEnv {
  REDIS_URL: string;
  SCOPE: string;
  TOTAL: number;
  [name: string]: string | number;
}

/** Starts test/fixtures/fault-worker.ts (with --expose-gc, for its memory reports). */
export function startWorker(env: WorkerEnv): JsonProcess {
  const vars: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(env)) vars[name] = String(value);
  return new JsonProcess(
    ["--expose-gc", "--import", "tsx", join(ROOT, "test", "fixtures", "fault-worker.ts")],
    vars,
  );
}

/** The scope's jobs as stored (HGETALL, parsed). */
export async function storedJobs(
  client: Redis,
  scope: string,
  prefix = DEFAULT_PREFIX,
): Promise<JobMap> {
  const raw = await client.hgetall(`${prefix}:${scope}`);
  const jobs: JobMap = {};
  for (const [id, value] of Object.entries(raw)) jobs[id] = JSON.parse(value) as JobValue;
  return jobs;
}

/** Calls per command since the last CONFIG RESETSTAT (INFO commandstats), lower-case names. */
export async function commandCounts(client: Redis): Promise<Record<string, number>> {
  const info = await client.info("commandstats");
  const counts: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    counts[(match[1] as string).toLowerCase()] = Number(match[2]);
  }
  return counts;
}

/** Milliseconds since `start`, rounded, for the figures a suite prints. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}

/** Prints a suite's measured figures (kept in the test log for the report). */
export function report(name: string, figures: Record<string, unknown>): void {
  process.stdout.write(`[fault figures] ${name}: ${JSON.stringify(figures)}\n`);
}
