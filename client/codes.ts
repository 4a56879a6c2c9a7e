/**
 * Connection states and error codes the client reports, in one place.
 * Isomorphic: no DOM or Node imports.
 */
import type { CancelErrorCode, SubscribeErrorCode } from "../shared/events";

/**
 * Where the connection to the gateway stands.
 * - `connecting`: first attempts, never connected yet;
 * - `connected`: the socket is up and subscriptions are (being) restored;
 * - `reconnecting`: the connection was lost (or the gateway closed it) and is being retried;
 * - `disconnected`: closed by `close()`, or refused for good (`unauthorized`).
 */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

/**
 * Error codes surfaced on the client's `error` event: the subscribe ack codes of
 * DESIGN.md, plus `unauthorized` (the handshake was refused or no token could be had);
 * and those a rejected `cancel()` carries (`not_found`, `conflict`, `invalid_argument`).
 */
export type ClientErrorCode = SubscribeErrorCode | CancelErrorCode | "unauthorized";

/** Subscribe errors that are worth retrying after a delay; the others are final. */
export const RETRYABLE_CODES: readonly ClientErrorCode[] = ["unavailable", "rate_limited"];

const CODES: readonly string[] = [
  "forbidden",
  "invalid_scope",
  "rate_limited",
  "unavailable",
  "unauthorized",
  "not_found",
  "conflict",
  "invalid_argument",
];

/** Narrows a code received from the gateway; anything unknown is reported as `unavailable`. */
export function toClientErrorCode(code: unknown): ClientErrorCode {
  return typeof code === "string" && CODES.includes(code)
    ? (code as ClientErrorCode)
    : "unavailable";
}
