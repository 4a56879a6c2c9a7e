/**
 * Key and channel names (DESIGN.md, "Redis layout"). Isomorphic.
 *
 * Auxiliary keys use a `#` after the hash key's name: `#` can never appear in a
 * scope part, so an auxiliary key can never be mistaken for another scope's hash.
 */
import { InvalidArgumentError } from "./errors/invalid-argument-error";

/** The seed's prefix, kept so that existing readers find the data. */
export const DEFAULT_PREFIX = "resque:pace";

const PREFIX_PATTERN = /^[A-Za-z0-9_.:@-]{1,64}$/;
/** Job ids: UUIDs by default; callers may pass their own (a BullMQ job id, say). */
export const JOB_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Throws unless `prefix` is a usable key prefix. */
export function validatePrefix(prefix: unknown): string {
  if (typeof prefix !== "string" || !PREFIX_PATTERN.test(prefix)) {
    throw new InvalidArgumentError(
      `Expected \`prefix\` to match ${PREFIX_PATTERN}, got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

/** Throws unless `id` is a valid job id. */
export function validateJobId(id: unknown): string {
  if (typeof id !== "string" || !JOB_ID_PATTERN.test(id)) {
    const shown = typeof id === "string" ? JSON.stringify(id.slice(0, 40)) : typeof id;
    throw new InvalidArgumentError(`Expected a job id matching ${JOB_ID_PATTERN}, got ${shown}`);
  }
  return id;
}

/** Where one scope's data lives. `scope` must already be validated. */
export interface ScopeKeys {
  /** The hash of jobs, field = job id. Also the pub/sub channel. */
  readonly hash: string;
  /** Sorted set: job id → time (ms) after which it is pruned. */
  readonly expiry: string;
  /** The channel that carries this scope's updates (same name as the hash). */
  readonly channel: string;
}

/** Names the keys of a scope; in cluster mode the scope is wrapped in a hash tag. */
export function scopeKeys(prefix: string, scope: string, cluster = false): ScopeKeys {
  const hash = cluster ? `${prefix}:{${scope}}` : `${prefix}:${scope}`;
  return { hash, expiry: `${hash}:#exp`, channel: hash };
}

/** Per-job key holding each tracker's last applied contribution (makes retried writes idempotent). */
export function writersKey(keys: ScopeKeys, id: string): string {
  return `${keys.hash}:#w:${id}`;
}

/** Recovers the scope from a channel name of the given prefix, or null if it is not one of ours. */
export function scopeFromChannel(prefix: string, channel: string): string | null {
  if (!channel.startsWith(`${prefix}:`)) return null;
  let rest = channel.slice(prefix.length + 1);
  if (rest.startsWith("{") && rest.endsWith("}")) rest = rest.slice(1, -1);
  return rest;
}
