import { RedisProgressError } from "../shared/errors/redis-progress-error";
import type { ClientErrorCode } from "./codes";

/**
 * An error reported by the browser client: a refused handshake (`unauthorized`),
 * or a refused or failed subscription (`scope` then names it).
 */
export class ProgressClientError extends RedisProgressError {
  declare readonly code: ClientErrorCode;
  /** The scope whose subscription failed; undefined for connection errors. */
  readonly scope: string | undefined;

  constructor(
    code: ClientErrorCode,
    message: string,
    scope?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = "ProgressClientError";
    this.scope = scope;
  }
}
