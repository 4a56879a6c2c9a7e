/** Machine-readable error codes used across the tracker, gateway and client. */
export type ErrorCode =
  | "invalid_scope"
  | "invalid_argument"
  | "timeout"
  | "closed"
  | "forbidden"
  | "rate_limited"
  | "unavailable"
  | "unauthorized"
  | "not_found"
  | "conflict";

/** Base class of every error this package throws or emits; `code` is stable, `message` is for humans. */
export class RedisProgressError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RedisProgressError";
    this.code = code;
  }
}
