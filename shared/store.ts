/**
 * The merge-by-seq store shared by the gateway and the browser SDK. Isomorphic.
 *
 * Per job it keeps the value with the highest `seq`, so replayed, duplicated or
 * reordered messages can never move a job backwards.
 */
import type { JobMap, JobPatch, JobValue } from "./job";
import { asJobValue, emptyMap } from "./job";

/** What one `apply` or `replace` changed: new or newer values, and removed ids. */
export interface StoreChange {
  updated: JobMap;
  removed: string[];
}

/** A change record whose map has no prototype, so a job id like `__proto__` stays an ordinary key. */
function emptyChange(): StoreChange {
  return { updated: emptyMap<JobValue>(), removed: [] };
}

export class JobStore {
  #jobs = new Map<string, JobValue>();

  /** Number of jobs held. */
  get size(): number {
    return this.#jobs.size;
  }

  get(id: string): JobValue | undefined {
    return this.#jobs.get(id);
  }

  /** A plain object copy of the current jobs. */
  toJSON(): JobMap {
    const out = emptyMap<JobValue>();
    for (const [id, value] of this.#jobs) out[id] = value;
    return out;
  }

  /**
   * Merges a partial update. A value is taken only when its `seq` is above the
   * held one; `null` removes the job. Values that are not jobs are skipped.
   */
  apply(patch: JobPatch): StoreChange {
    return this.#apply(patch, true);
  }

  /** As `apply`, for values the caller has already checked with `asJobValue`. */
  applyChecked(patch: JobPatch): StoreChange {
    return this.#apply(patch, false);
  }

  #apply(patch: JobPatch, check: boolean): StoreChange {
    const change = emptyChange();
    for (const id in patch) {
      const raw = patch[id];
      if (raw === undefined) continue;
      if (raw === null) {
        if (this.#jobs.delete(id)) change.removed.push(id);
        continue;
      }
      const value = check ? asJobValue(raw) : raw;
      if (value === null) continue;
      const held = this.#jobs.get(id);
      if (held !== undefined && held.seq >= value.seq) continue;
      this.#jobs.set(id, value);
      change.updated[id] = value;
    }
    return change;
  }

  /** Replaces everything with a full snapshot; jobs missing from it are removed. */
  replace(jobs: JobMap): StoreChange {
    const change = emptyChange();
    for (const id of this.#jobs.keys()) {
      if (!Object.prototype.hasOwnProperty.call(jobs, id)) change.removed.push(id);
    }
    for (const id of change.removed) this.#jobs.delete(id);
    for (const [id, raw] of Object.entries(jobs)) {
      const value = asJobValue(raw);
      if (value === null) continue;
      const held = this.#jobs.get(id);
      if (held === undefined || held.seq !== value.seq) change.updated[id] = value;
      this.#jobs.set(id, value);
    }
    return change;
  }

  clear(): void {
    this.#jobs.clear();
  }
}
