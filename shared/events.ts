/**
 * Socket.IO event maps (DESIGN.md, "Socket.IO protocol"), declared once and
 * used by both the gateway and the browser SDK so that a payload change breaks
 * the build on both sides. Isomorphic.
 */
import type { JobMap, ProgressMessage } from "./job";

/** Error codes a `subscribe` (or `cancel`) ack may carry. */
export type SubscribeErrorCode = "forbidden" | "invalid_scope" | "rate_limited" | "unavailable";
export type CancelErrorCode = SubscribeErrorCode | "not_found" | "conflict" | "invalid_argument";

export interface AckError<C extends string = SubscribeErrorCode> {
  ok: false;
  error: { code: C; message: string };
}

/** The refusal an ack carries. */
export function ackError<C extends string>(code: C, message: string): AckError<C> {
  return { ok: false, error: { code, message } };
}

/**
 * Added fields: `can_cancel` is present, `true`, when the token's `cancel` claim
 * grants the scope, so that a dashboard shows cancel buttons only then; `now`
 * is the gateway's clock (ms since the epoch) when it answered, so that a
 * browser with a wrong clock can judge the snapshot's times before any live
 * update.
 */
export type SubscribeAck =
  { ok: true; scope: string; jobs: JobMap; can_cancel?: true; now?: number } | AckError;
export type UnsubscribeAck = { ok: true } | AckError;
/** `cancel_requested_at` (added field): when the cancel was (first) requested. */
export type CancelAck = { ok: true; cancel_requested_at?: string } | AckError<CancelErrorCode>;

export interface ScopeRequest {
  scope: string;
}
export interface CancelRequest {
  scope: string;
  id: string;
}

/** Events the gateway sends. */
export interface ServerToClientEvents {
  /** A partial map of changed jobs (`null` = removed); keep the value with the highest `seq`. */
  progress: (message: ProgressMessage) => void;
  /** A full replacement of a scope's jobs, sent after the gateway resynchronised. */
  snapshot: (message: ProgressMessage) => void;
}

/** Events a client sends, each with an ack. */
export interface ClientToServerEvents {
  /** Join a scope; the ack carries its snapshot. */
  subscribe: (request: ScopeRequest, ack: (response: SubscribeAck) => void) => void;
  /** Leave a scope. */
  unsubscribe: (request: ScopeRequest, ack: (response: UnsubscribeAck) => void) => void;
  /** Ask the worker of a running job to stop (needs the token's `cancel` claim). */
  cancel: (request: CancelRequest, ack: (response: CancelAck) => void) => void;
}
