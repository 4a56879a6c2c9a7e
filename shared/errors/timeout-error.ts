import { RedisProgressError } from "./redis-progress-error";

/** A write that could not be stored before its deadline (see the `timeout` option). */
export class TimeoutError extends RedisProgressError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("timeout", message, options);
    this.name = "TimeoutError";
  }
}
