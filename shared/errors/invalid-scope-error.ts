import { RedisProgressError } from "./redis-progress-error";

/** A scope string or array that does not follow the grammar of DESIGN.md. */
export class InvalidScopeError extends RedisProgressError {
  /** The offending part, when one part is to blame. */
  readonly part: string | undefined;

  constructor(message: string, part?: string) {
    super("invalid_scope", message);
    this.name = "InvalidScopeError";
    this.part = part;
  }
}
