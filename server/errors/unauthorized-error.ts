import { RedisProgressError } from "../../shared/errors/redis-progress-error";

/**
 * A token that is missing, malformed, wrongly signed, expired or carries bad
 * claims. The message says which, for logs; clients only ever see `unauthorized`.
 */
export class UnauthorizedError extends RedisProgressError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unauthorized", message, options);
    this.name = "UnauthorizedError";
  }
}
