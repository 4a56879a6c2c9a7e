/**
 * Reading a scope's snapshot and parsing pub/sub messages, skipping (and
 * reporting) anything that is not a job instead of crashing on it: a scope
 * hash is plain Redis data that anyone with access can write garbage into.
 */
import { asJobValue, emptyMap, type JobMap, type JobPatch } from "../shared/job";
import { scopeKeys } from "../shared/keys";
import { readScopeValues } from "../shared/tracker/read-values";
import type { RedisClient } from "../shared/tracker/scripts";

/** Re-exported for the gateway's modules (it lives in shared/job.ts, which the SDK uses too). */
export { emptyMap };

export interface ReadResult {
  jobs: JobMap;
  /** Ids (hash fields) whose values were not jobs. */
  garbage: string[];
}

/**
 * Reads a scope through the read script (which applies retention), as stored:
 * `stalled` is added when the values are sent, not here.
 */
export async function readJobs(
  client: RedisClient,
  prefix: string,
  scope: string,
  cluster: boolean,
): Promise<ReadResult> {
  const keys = scopeKeys(prefix, scope, cluster);
  try {
    return await readScopeValues(client, keys, scope, cluster);
  } catch (error) {
    // A scope key overwritten with another type is garbage too: report it, serve nothing.
    if (error instanceof Error && /WRONGTYPE/.test(error.message)) {
      return { jobs: emptyMap(), garbage: [keys.hash] };
    }
    throw error;
  }
}

interface ParsedMessage {
  patch: JobPatch;
  /** Entries skipped because they were not jobs (or the whole message, as 1). */
  garbage: number;
  /** Entries in `patch`. */
  size: number;
  /** The message's `scope` when the message is exactly `{scope, jobs}`, else null. */
  scope: string | null;
}

/** Parses a pub/sub message (`{"scope", "jobs": {id: value | null}}`); garbage is skipped. */
export function parseMessage(message: string): ParsedMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return { patch: emptyMap(), garbage: 1, size: 0, scope: null };
  }
  const jobs = (parsed as { jobs?: unknown } | null)?.jobs;
  if (typeof jobs !== "object" || jobs === null || Array.isArray(jobs)) {
    return { patch: emptyMap(), garbage: 1, size: 0, scope: null };
  }
  const patch: JobPatch = emptyMap();
  let garbage = 0;
  let size = 0;
  // for…in: JSON.parse makes plain objects, whose keys are all their own.
  const entries = jobs as Record<string, unknown>;
  for (const id in entries) {
    const raw = entries[id];
    if (raw === null) {
      patch[id] = null;
      size += 1;
      continue;
    }
    const value = asJobValue(raw);
    if (value === null || value.id !== id) {
      garbage += 1;
    } else {
      patch[id] = value;
      size += 1;
    }
  }
  const { scope } = parsed as { scope?: unknown };
  const exact = typeof scope === "string" && Object.keys(parsed as object).length === 2;
  return { patch, garbage, size, scope: exact ? scope : null };
}
