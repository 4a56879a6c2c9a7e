/**
 * The words the renderer shows, English by default. Pass `labels` (and a
 * matching `locale`) to mountProgress to translate; `{scope}`, `{time}` and
 * `{ago}` are replaced.
 */
import type { ClientErrorCode } from "../codes";

export interface Labels {
  running: string;
  completed: string;
  failed: string;
  canceled: string;
  stalled: string;
  /** Shown beside the status of a running job whose cancel was requested. */
  cancelRequested: string;
  /** The cancel button of a running job (shown when the token may cancel). */
  cancel: string;
  /** The cancel button's accessible name; `{name}` is the job's name. */
  cancelJob: string;
  /** The cancel button while the request is on its way. */
  canceling: string;
  /** Shown when a cancel request was refused; `{reason}` is the error's words. */
  cancelFailed: string;
  /** A cancel's `{reason}` when the token may not cancel (code `forbidden`). */
  cancelForbidden: string;
  /** A cancel's `{reason}` when the gateway asked to slow down (code `rate_limited`). */
  cancelRateLimited: string;
  /** A cancel's `{reason}` when the gateway was not reached or did not answer (code `unavailable`). */
  cancelUnavailable: string;
  /** A cancel's `{reason}` for any other failure. */
  cancelError: string;
  /** A parent's children, on the button that shows or hides them. */
  childrenDone: string;
  /** Added to `childrenDone` when some children failed. */
  childrenFailed: string;
  /** Name of a job written without one; `{id}` is its id's first 8 characters. */
  untitled: string;
  loading: string;
  empty: string;
  connecting: string;
  reconnecting: string;
  disconnected: string;
  timeLeft: string;
  fewSeconds: string;
  estimating: string;
  finished: string;
  lastUpdate: string;
  justNow: string;
  noClient: string;
  invalidScope: string;
  errors: Record<ClientErrorCode, string>;
}

export const DEFAULT_LABELS: Labels = {
  running: "Running",
  completed: "Completed",
  failed: "Failed",
  canceled: "Canceled",
  stalled: "Stalled",
  cancelRequested: "cancel requested…",
  cancel: "Cancel",
  cancelJob: "Cancel {name}",
  canceling: "Cancelling…",
  cancelFailed: "Could not cancel: {reason}",
  cancelForbidden: "your token does not allow cancelling this job.",
  cancelRateLimited: "too many requests; try again shortly.",
  cancelUnavailable: "the progress service did not answer; try again.",
  cancelError: "the request failed.",
  childrenDone: "{done} of {total} done",
  childrenFailed: "{failed} failed",
  untitled: "Job {id}",
  loading: "Loading jobs…",
  empty: "No jobs in {scope} yet.",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  disconnected: "Disconnected.",
  timeLeft: "about {time} left",
  fewSeconds: "a few seconds left",
  estimating: "estimating time left…",
  finished: "finished {ago}",
  lastUpdate: "last update {ago}",
  justNow: "just now",
  noClient:
    "No connection: give this element url and token attributes, or call RedisProgressClient.setDefaultClient(client).",
  invalidScope: "“{scope}” is not a valid scope.",
  errors: {
    forbidden: "Access denied: your token does not allow watching {scope}.",
    invalid_scope: "“{scope}” is not a valid scope.",
    rate_limited: "Too many subscriptions; retrying {scope} shortly…",
    unavailable: "The progress service is unavailable; retrying…",
    unauthorized: "The progress service refused the token (unauthorized).",
    not_found: "the job no longer exists.",
    conflict: "the job has already ended.",
    invalid_argument: "the request was invalid.",
  },
};

/** Merges partial labels over the defaults (errors merged per code). */
export function resolveLabels(labels: Partial<Labels> | undefined): Labels {
  if (labels === undefined) return DEFAULT_LABELS;
  return {
    ...DEFAULT_LABELS,
    ...labels,
    errors: { ...DEFAULT_LABELS.errors, ...labels.errors },
  };
}

/**
 * The words completing "Could not cancel: …" for a rejected cancel. Always a
 * label, never the error's own message: that one is English, written for
 * developers, and names the job id and scope.
 */
export function cancelReason(error: unknown, labels: Labels): string {
  const code =
    typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  switch (code) {
    case "not_found":
    case "conflict":
    case "invalid_argument":
      return labels.errors[code];
    case "forbidden":
      return labels.cancelForbidden;
    case "rate_limited":
      return labels.cancelRateLimited;
    case "unavailable":
      return labels.cancelUnavailable;
    default:
      return labels.cancelError;
  }
}

/** Replaces `{name}` placeholders. */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (match, key: string) => values[key] ?? match);
}
