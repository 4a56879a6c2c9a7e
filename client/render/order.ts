/**
 * The order of rows: running jobs first (newest started first), then finished
 * ones, most recently finished first. Child jobs (with `parent`) are grouped
 * under their parent when the parent is in the same map.
 */
import type { JobMap, JobValue } from "../../shared/job";

function time(iso: string | null | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

export function compareJobs(a: JobValue, b: JobValue): number {
  const aRunning = a.status === "running";
  const bRunning = b.status === "running";
  if (aRunning !== bRunning) return aRunning ? -1 : 1;
  const diff = aRunning
    ? time(b.started_at) - time(a.started_at)
    : time(b.finished_at ?? b.updated_at) - time(a.finished_at ?? a.updated_at);
  return diff !== 0 ? diff : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

interface Arrangement {
  /** Top-level jobs, in display order. */
  roots: JobValue[];
  /** Children by parent id, each list in display order. */
  children: Map<string, JobValue[]>;
}

/** True when following `parent` links from `id` ends at a root, not in a cycle or a missing job. */
function nests(jobs: JobMap, id: string): boolean {
  const seen = new Set<string>([id]);
  let parent = jobs[id]?.parent;
  if (parent === undefined || jobs[parent] === undefined) return false;
  while (parent !== undefined && jobs[parent] !== undefined) {
    if (seen.has(parent)) return false;
    seen.add(parent);
    parent = jobs[parent]?.parent;
  }
  return true;
}

export function arrange(jobs: JobMap): Arrangement {
  const roots: JobValue[] = [];
  const children = new Map<string, JobValue[]>();
  for (const [id, job] of Object.entries(jobs)) {
    const parent = job.parent;
    if (parent !== undefined && nests(jobs, id)) {
      let list = children.get(parent);
      if (list === undefined) children.set(parent, (list = []));
      list.push(job);
    } else {
      roots.push(job);
    }
  }
  roots.sort(compareJobs);
  for (const list of children.values()) list.sort(compareJobs);
  return { roots, children };
}
