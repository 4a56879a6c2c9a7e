import { RedisProgressError } from "./redis-progress-error";

/** A bad option or argument (a negative `total`, a fractional `tick(n)`, a malformed id...). */
export class InvalidArgumentError extends RedisProgressError {
  constructor(message: string) {
    super("invalid_argument", message);
    this.name = "InvalidArgumentError";
  }
}
