import { RedisProgressError } from "./redis-progress-error";

/** The job does not exist in its scope (never written, removed, or past its retention). */
export class NotFoundError extends RedisProgressError {
  constructor(message: string) {
    super("not_found", message);
    this.name = "NotFoundError";
  }
}
