/** Small promise helpers for the write path. */
import { TimeoutError } from "../errors/timeout-error";

/** The error of a timeout; the message names `option`, the setting that gave `ms`. */
export function timeoutError(what: string, ms: number, option: string): TimeoutError {
  return new TimeoutError(
    `${what} did not complete within ${Math.round(ms)} ms (see the \`${option}\` option)`,
  );
}

/**
 * Rejects with a TimeoutError when `promise` has not settled within `ms`; the
 * message names `option`, the setting that gave `ms`, so users know what to change.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  option: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(timeoutError(what, ms, option));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
