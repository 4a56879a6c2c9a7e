/**
 * Per-socket subscribe limits: a token bucket for the rate, and a cap on the
 * scopes one socket watches. The state is two numbers kept on the socket.
 */
import { InvalidArgumentError } from "../shared/errors/invalid-argument-error";
import { DEFAULTS, type LimitOptions } from "./options";

/** A socket's bucket: tokens left, and when it was last refilled (ms). */
export interface Bucket {
  tokens: number;
  at: number;
}

export class SubscribeLimits {
  readonly #burst: number;
  readonly #ratePerMs: number;
  readonly maxScopes: number;
  readonly maxBufferedBytes: number;

  constructor(options: Partial<LimitOptions> = {}) {
    const merged = { ...DEFAULTS.limits, ...options };
    for (const name of [
      "subscribeBurst",
      "subscribeRate",
      "maxScopesPerSocket",
      "maxBufferedBytes",
    ] as const) {
      const value = merged[name];
      if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
        throw new InvalidArgumentError(
          `Expected \`limits.${name}\` to be a positive number, got ${String(value)}`,
        );
      }
    }
    this.#burst = merged.subscribeBurst;
    this.#ratePerMs = merged.subscribeRate / 1000;
    this.maxScopes = merged.maxScopesPerSocket;
    this.maxBufferedBytes = merged.maxBufferedBytes;
  }

  /** A full bucket for a new socket. */
  bucket(now: number): Bucket {
    return { tokens: this.#burst, at: now };
  }

  /** Takes one token from the bucket; false when it is empty. */
  take(bucket: Bucket, now: number): boolean {
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#ratePerMs);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
