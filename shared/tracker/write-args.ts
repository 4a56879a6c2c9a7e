/**
 * The write script's arguments (see write-6.lua's header): the tracker's
 * numbers in one argument, and what stays the same for the tracker's whole
 * life packed once into another. Redis makes a string of every argument on
 * every call: eight arguments cost it far less than twenty. All are text, so
 * that ioredis writes the command as one string.
 */

/** What a tracker sends on every write and never changes. */
export interface WriteConstants {
  scope: string;
  id: string;
  /** The tracker's own id (one per RedisProgress instance). */
  trackerId: string;
  heartbeat: number;
  retention: number;
  /** PUBLISH, or SPUBLISH in cluster mode. */
  publish: string;
  /** The token of prebuilt writes ("" = never prebuild, see prebuilt.ts). */
  token: string;
  /** ISO text. */
  startedAt: string;
  /** "" = keep the stored name. */
  name: string;
  /** "" = none. */
  parent: string;
  weight: number;
  completeWithChildren: boolean;
}

/** What changes between writes, as numbers. */
export interface WriteNumbers {
  count: number;
  errors: number;
  total: number;
  /** The highest seq the tracker has seen for the job. */
  seq: number;
  retention: number;
  /** The rate's EMA smoothing factor. */
  alpha: number;
  /** The write's time, ms since the epoch (the tracker's clock). */
  now: number;
  /** For a prebuilt write, the byte length of the value it was built on; else 0. */
  builtOnLength: number;
}

/** ARGV[5]: the strings separated by spaces, in the script's order, the name (which may hold spaces) last. */
export function packConstants(c: WriteConstants): string {
  return [
    c.scope,
    c.id,
    c.trackerId,
    c.publish,
    String(c.heartbeat),
    String(c.retention),
    c.token,
    c.startedAt,
    c.parent,
    String(c.weight),
    c.completeWithChildren ? "1" : "0",
    c.name,
  ].join(" ");
}

/**
 * ARGV[1]: the numbers as text separated by spaces, the built-on length first.
 * JavaScript writes a number's shortest text that reads back as the same
 * double, and Lua's tonumber reads it so.
 */
export function packNumbers(n: WriteNumbers): string {
  return `${n.builtOnLength} ${n.count} ${n.errors} ${n.total} ${n.seq} ${n.retention} ${n.alpha} ${n.now}`;
}

/**
 * ARGV[3] of a prebuilt write whose value ends with the tracker's meta: the
 * meta goes once, inside the value, and the script takes it from there should
 * the full path run. No meta text can be it (meta is a JSON object).
 */
export const PREBUILT_META = "=";
