import { RedisProgressError } from "./redis-progress-error";

/** The job is not in a state that allows the request (cancelling a job that has ended). */
export class ConflictError extends RedisProgressError {
  /** The job's status when the request was refused. */
  readonly status: string;

  constructor(message: string, status: string) {
    super("conflict", message);
    this.name = "ConflictError";
    this.status = status;
  }
}
