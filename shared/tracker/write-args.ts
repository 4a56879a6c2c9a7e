/**
 * The write script's arguments (see write-5.lua's header): the tracker's
 * numbers as little-endian doubles in one argument, and what stays the same
 * for the tracker's whole life packed once into another. Redis makes a string
 * of every argument on every call, and Lua parses a number's text with strtod:
 * eight arguments cost it far less than twenty.
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

/** The longest string struct's '<H' length prefix can carry. */
const MAX_PART = 0xffff;

/** ARGV[5]: each string after its length in bytes (uint16, little-endian), in the script's order. */
export function packConstants(c: WriteConstants): Buffer {
  const parts = [
    c.scope,
    c.id,
    c.trackerId,
    c.publish,
    String(c.heartbeat),
    String(c.retention),
    c.token,
    c.startedAt,
    c.name,
    c.parent,
    String(c.weight),
    c.completeWithChildren ? "1" : "0",
  ].map((text) => Buffer.from(text, "utf8"));
  const out = Buffer.allocUnsafe(parts.reduce((sum, part) => sum + 2 + part.length, 0));
  let at = 0;
  for (const part of parts) {
    // Validated inputs are far shorter (a name is at most 256 characters).
    if (part.length > MAX_PART) throw new RangeError(`A write argument of ${part.length} bytes`);
    at = out.writeUInt16LE(part.length, at);
    at += part.copy(out, at);
  }
  return out;
}

/** ARGV[1]: eight little-endian doubles (struct '<dddddddd'). */
export function packNumbers(n: WriteNumbers): Buffer {
  const out = Buffer.allocUnsafe(64);
  out.writeDoubleLE(n.count, 0);
  out.writeDoubleLE(n.errors, 8);
  out.writeDoubleLE(n.total, 16);
  out.writeDoubleLE(n.seq, 24);
  out.writeDoubleLE(n.retention, 32);
  out.writeDoubleLE(n.alpha, 40);
  out.writeDoubleLE(n.now, 48);
  out.writeDoubleLE(n.builtOnLength, 56);
  return out;
}
