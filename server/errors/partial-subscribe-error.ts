import { UnavailableError } from "./unavailable-error";

/**
 * A subscribe over several Redis Cluster shards of which some failed: the
 * channels in `failed` are not subscribed, every other one is.
 */
export class PartialSubscribeError extends UnavailableError {
  readonly failed: readonly string[];

  constructor(message: string, failed: readonly string[], options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PartialSubscribeError";
    this.failed = failed;
  }
}
