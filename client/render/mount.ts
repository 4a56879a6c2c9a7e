/**
 * mountProgress: a live list of a scope's jobs inside any element, with no
 * framework. Returns the function that unmounts it (and leaves the scope).
 *
 *   div.rp-jobs[data-state]
 *     p.rp-banner[role=status]   connection state or this scope's error
 *     p.rp-empty                 shown once loaded with no job
 *     ul.rp-list                 one JobRow per top-level job; children nested in their parent's row
 *
 * Rows get a cancel button when the gateway said the client's token may cancel
 * this scope's jobs (`client.canCancel(scope)`), and parents a toggle with their
 * children's counts ("2 of 3 done"); children start collapsed.
 */
import type { JobMap, JobValue } from "../../shared/job";
import { formatScope, type ScopeInput } from "../../shared/scope";
import type { ConnectionState } from "../codes";
import type { ProgressClient } from "../progress-client";
import type { ProgressClientError } from "../progress-client-error";
import { Animator } from "./animator";
import { JobRow, type RowContext } from "./job-row";
import { fill, resolveLabels, type Labels } from "./labels";
import { arrange } from "./order";
import { adoptStyles } from "./styles";

export interface MountOptions {
  /** The client to watch through (see createProgressClient). */
  client: ProgressClient;
  /** The scope whose jobs to list. */
  scope: ScopeInput;
  /**
   * The trackers' write interval (ms): how long a bar may extrapolate before
   * the next update is due.
   * @default 2000 (the tracker's default `interval`)
   */
  interval?: number;
  /**
   * Locale for numbers and times (Intl); set it together with `labels`.
   * @default "en"
   */
  locale?: string;
  /** Words to show instead of the English defaults. */
  labels?: Partial<Labels>;
  /**
   * Adopt the default stylesheet (false: style `.rp-*` classes yourself).
   * @default true
   */
  styles?: boolean;
  /**
   * How often the time words ("about 2 minutes left") are refreshed (ms).
   * @default 1000
   */
  clockInterval?: number;
}

/** A refusal that no retry will undo (the scope's jobs are cleared). */
function isFinal(error: ProgressClientError | undefined): boolean {
  return error?.code === "forbidden" || error?.code === "invalid_scope";
}

/**
 * Positions (into `indices`) of a longest strictly increasing subsequence of
 * the non-negative values of `indices`, in O(n log n).
 */
function longestIncreasing(indices: readonly number[]): Set<number> {
  // tails[k]: the position ending the best run of length k + 1 found so far.
  const tails: number[] = [];
  const previous = new Array<number>(indices.length).fill(-1);
  indices.forEach((value, position) => {
    if (value < 0) return;
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((indices[tails[middle] as number] as number) < value) low = middle + 1;
      else high = middle;
    }
    if (low > 0) previous[position] = tails[low - 1] as number;
    tails[low] = position;
  });
  const kept = new Set<number>();
  for (let position = tails.at(-1) ?? -1; position >= 0; position = previous[position] as number) {
    kept.add(position);
  }
  return kept;
}

/** Whether `container` holds exactly the rows of `order`, in that order. */
function inPlace(container: Element, order: readonly JobRow[]): boolean {
  let child = container.firstElementChild;
  for (const row of order) {
    if (child !== row.element) return false;
    child = child.nextElementSibling;
  }
  return child === null;
}

/**
 * Puts the rows of `order` into `container` in that order and removes any
 * other child, moving as few rows as possible: the longest run already in
 * order stays where it is. A moved element loses focus (Chromium blurs it):
 * when one job finishes and moves down, only its row may move, or a keyboard
 * user's focus on another row's button would be lost.
 */
function place(container: Element, order: readonly JobRow[]): void {
  // Every update renders each row's children: most often nothing moves.
  if (inPlace(container, order)) return;
  const wanted = new Set<Element>(order.map((row) => row.element));
  const current = new Map<Element, number>();
  for (const child of Array.from(container.children)) {
    if (wanted.has(child)) current.set(child, current.size);
    else child.remove();
  }
  const kept = longestIncreasing(order.map((row) => current.get(row.element) ?? -1));
  // From the end: each row that moves goes right before its successor, which
  // is already where it belongs relative to every row after it.
  let next: Element | null = null;
  for (let i = order.length - 1; i >= 0; i--) {
    const element = (order[i] as JobRow).element;
    if (!kept.has(i)) container.insertBefore(element, next);
    next = element;
  }
}

/**
 * Renders the live jobs of `options.scope` into `element` (appended to what it holds).
 * @throws InvalidScopeError for a scope outside the grammar, TypeError for a missing client.
 * @returns unmount: removes the list, stops its timers and leaves the scope.
 */
export function mountProgress(element: Element, options: MountOptions): () => void {
  if (typeof options?.client?.subscribe !== "function") {
    throw new TypeError("Expected `client` to be a ProgressClient (see createProgressClient)");
  }
  const { client } = options;
  const scope = formatScope(options.scope);
  const labels = resolveLabels(options.labels);
  const ctx: RowContext = {
    labels,
    locale: options.locale ?? "en",
    interval: options.interval ?? 2000,
    canCancel: () => client.canCancel(scope),
    cancel: (id) => client.cancel(scope, id),
  };
  if (options.styles !== false) adoptStyles(element);

  const doc = element.ownerDocument;
  const root = doc.createElement("div");
  root.className = "rp-jobs";
  root.dataset.scope = scope;
  const banner = doc.createElement("p");
  banner.className = "rp-banner";
  banner.setAttribute("role", "status");
  const empty = doc.createElement("p");
  empty.className = "rp-empty";
  empty.textContent = fill(labels.empty, { scope });
  empty.hidden = true;
  const list = doc.createElement("ul");
  list.className = "rp-list";
  root.append(banner, empty, list);
  element.append(root);

  const rows = new Map<string, JobRow>();
  const animator = new Animator(() => rows.values());
  let loaded = client.loaded(scope);
  let error: ProgressClientError | undefined = client.scopeError(scope);
  // A refused handshake; shown only while it keeps the client disconnected.
  let refused: ProgressClientError | undefined;

  function showBanner(): void {
    const state: ConnectionState = client.state;
    root.dataset.state = state;
    let kind = "";
    let text = "";
    if (error !== undefined) {
      kind = "error";
      text = fill(labels.errors[error.code], { scope });
    } else if (state === "disconnected" && refused !== undefined) {
      kind = "error";
      text = fill(labels.errors[refused.code], { scope });
    } else if (state !== "connected") {
      kind = state;
      text = labels[state];
    } else if (!loaded) {
      kind = "loading";
      text = labels.loading;
    }
    banner.dataset.kind = kind;
    banner.textContent = text;
    banner.hidden = text === "";
    empty.hidden = !loaded || rows.size > 0 || error !== undefined;
  }

  function render(jobs: JobMap): void {
    const serverNow = client.now();
    const localNow = performance.now();
    for (const [id, row] of rows) {
      if (jobs[id] === undefined) {
        row.element.remove();
        rows.delete(id);
      }
    }
    const rowOf = (job: JobValue): JobRow => {
      let row = rows.get(job.id);
      if (row === undefined) {
        row = new JobRow(job, ctx);
        rows.set(job.id, row);
        row.update(job, serverNow, localNow);
      } else if (row.job !== job) {
        row.update(job, serverNow, localNow, row.job.seq !== job.seq);
      }
      return row;
    };
    const { roots, children } = arrange(jobs);
    place(list, roots.map(rowOf));
    // Rows rowOf creates here are visited later in this same loop (Map order).
    for (const [id, row] of rows) {
      const kids = children.get(id) ?? [];
      place(row.children, kids.map(rowOf));
      row.setChildren(kids);
      // The grant may have changed with a resubscribe (a new token).
      row.refreshActions();
    }
    showBanner();
    animator.request();
  }

  const offJobs = client.subscribe(scope, (jobs) => {
    // The scope's error stays until a subscribe succeeds: a final refusal
    // reports first and then clears the jobs, which calls this listener.
    error = client.scopeError(scope);
    loaded = !isFinal(error);
    render(jobs);
  });
  const offState = client.on("state", (state) => {
    if (state === "connected") refused = undefined;
    showBanner();
  });
  const offError = client.on("error", (e) => {
    if (e.scope === undefined) refused = e;
    if (e.scope !== scope) return showBanner();
    error = e;
    if (isFinal(e)) {
      loaded = false;
      render({});
    }
    showBanner();
  });
  const clock = setInterval(() => {
    if (doc.visibilityState === "hidden") return;
    const serverNow = client.now();
    for (const row of rows.values()) row.tick(serverNow);
  }, options.clockInterval ?? 1000);

  if (loaded) render(client.jobs(scope));
  else showBanner();

  return () => {
    offJobs();
    offState();
    offError();
    clearInterval(clock);
    animator.destroy();
    root.remove();
  };
}
