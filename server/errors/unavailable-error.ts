import { RedisProgressError } from "../../shared/errors/redis-progress-error";

/** Redis did not answer in time (or the gateway is closing): the client may retry later. */
export class UnavailableError extends RedisProgressError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unavailable", message, options);
    this.name = "UnavailableError";
  }
}
