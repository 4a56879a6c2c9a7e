/**
 * The page-wide client that <redis-progress-jobs> elements use when they are
 * given neither a `client` property nor `url`/`token` attributes.
 */
import type { ProgressClient } from "../progress-client";

let current: ProgressClient | undefined;
const waiting = new Set<() => void>();

/** Sets (or clears) the default client; elements waiting for one mount at once. */
export function setDefaultClient(client: ProgressClient | undefined): void {
  current = client;
  for (const notify of [...waiting]) notify();
}

export function getDefaultClient(): ProgressClient | undefined {
  return current;
}

/** Calls `notify` whenever the default client changes; returns the function that stops it. */
export function onDefaultClient(notify: () => void): () => void {
  waiting.add(notify);
  return () => waiting.delete(notify);
}
