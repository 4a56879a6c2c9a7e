/**
 * A scope's stored values through the read script (which applies retention
 * first), validated: what the gateway's snapshots and the Node queries share.
 */
import { parseJobValue, type JobValue } from "../job";
import type { ScopeKeys } from "../keys";
import { publishCommand, runScript, type RedisClient } from "./scripts";

export interface ScopeValues {
  /** Job values by id, in an object without a prototype (an id `__proto__` stays a key). */
  jobs: Record<string, JobValue>;
  /** Ids (hash fields) whose values are not jobs, or are filed under another id. */
  garbage: string[];
}

/** Runs the read script on `keys` and keeps what are jobs; Redis errors are thrown. */
export async function readScopeValues(
  client: RedisClient,
  keys: ScopeKeys,
  scope: string,
  cluster: boolean,
): Promise<ScopeValues> {
  const flat = await runScript(
    client,
    "read",
    [keys.hash, keys.expiry],
    [scope, publishCommand(cluster)],
  );
  const result: ScopeValues = {
    jobs: Object.create(null) as Record<string, JobValue>,
    garbage: [],
  };
  if (!Array.isArray(flat)) return result;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const id = flat[i] as string;
    const raw = flat[i + 1] as unknown;
    const value = typeof raw === "string" ? parseJobValue(raw) : null;
    if (value === null || value.id !== id) result.garbage.push(id);
    else result.jobs[id] = value;
  }
  return result;
}
