/**
 * Prebuilt writes (see write-6.lua's header). After a write to a plain running
 * job, the script returns the job's state and the value's text from `,"id":`
 * on. With them the tracker computes its next value itself, byte for byte as
 * the script's full path would, and the script only checks that nothing
 * changed in between, stores and publishes: no JSON decoded, no number or date
 * formatted in Redis, where every instruction is spent on the one thread all
 * clients share.
 */

import { IsoDay, LAST_ISO_MS } from "./iso-time";

/** state.lua's version: a state of any other version is never built on. */
export const STATE_VERSION = 8;

/** A job's state as the write script keeps it in its writers hash (field "~s", see state.lua). */
export interface JobState {
  seq: number;
  count: number;
  errors: number;
  /** The last write's time, ms since the epoch. */
  updatedMs: number;
  /** The rate's smoothed count and time deltas, null until known. */
  emaDn: number | null;
  emaDt: number | null;
  /** When housekeeping last ran, ms since the epoch. */
  refreshedMs: number;
  /** The stored value's length in bytes. */
  length: number;
  /** "" = no write may be prebuilt on this state. */
  token: string;
}

/** The version, eight numbers and the token. */
const STATE_FIELDS = 10;

/** Reads a state; null when it is not a whole state of this version (as read_state in state.lua). */
export function readState(text: string): JobState | null {
  const fields = text.split(" ");
  if (fields.length !== STATE_FIELDS || fields[0] !== String(STATE_VERSION)) return null;
  const numbers = fields.slice(1, 9).map((field) => (field === "" ? NaN : Number(field)));
  if (!numbers.every((n) => Number.isFinite(n))) return null;
  const [seq, count, errors, updatedMs, emaDn, emaDt, refreshedMs, length] = numbers as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return {
    seq,
    count,
    errors,
    updatedMs,
    emaDn: emaDn < 0 ? null : emaDn,
    emaDt: emaDn < 0 ? null : emaDt,
    refreshedMs,
    length,
    token: fields[9] as string,
  };
}

/**
 * The state's text as pack_state in state.lua writes it, except that each
 * number is JavaScript's shortest text for it (Lua writes %.17g): both read
 * back as the same double, and a stored state is only ever compared with the
 * very text it was stored as.
 */
export function packState(s: JobState): string {
  const dn = s.emaDn ?? -1;
  const dt = s.emaDn === null ? -1 : (s.emaDt ?? -1);
  return `${STATE_VERSION} ${s.seq} ${s.count} ${s.errors} ${s.updatedMs} ${dn} ${dt} ${s.refreshedMs} ${s.length} ${s.token}`;
}

/** Significant digits of Lua's number format ("%.14g"). */
const DIGITS = 14;

/**
 * Whether |x| lies exactly halfway between two numbers of 14 significant
 * digits, which JavaScript rounds up and printf to the even one. Only a double
 * whose exact decimal expansion is 15 digits ending in 5 can be: N × 10^(e-14)
 * with N such an integer and e the decimal exponent, so that x × 2^(14-e) =
 * N × 5^(e-14) is a whole number. That check is one exact multiplication; the
 * digits are looked at only for the few numbers it lets through.
 */
function isTie(abs: number, exponent: number): boolean {
  if (!Number.isInteger(abs * 2 ** (DIGITS - exponent))) return false;
  const fifteen = abs.toExponential(DIGITS);
  if (fifteen.charCodeAt(fifteen.indexOf("e") - 1) !== 53 || Number(fifteen) !== abs) return false;
  // toFixed(100) is exact here; outside, no double is such a tie.
  if (abs < 1e-7 || abs >= 1e21) return false;
  const significant = abs.toFixed(100).replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
  return significant.length === DIGITS + 1;
}

/** Drops the zeros that end a decimal fraction, and a bare point. */
function trimFraction(text: string): string {
  let end = text.length;
  while (text.charCodeAt(end - 1) === 48) end -= 1; // "0"
  if (text.charCodeAt(end - 1) === 46) end -= 1; // "."
  return text.slice(0, end);
}

/**
 * Lua's tostring() of a number (printf's "%.14g"), which the full path uses
 * for `rate`: the same value must come out of both paths, digit for digit.
 */
export function luaNumberText(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "inf" : x < 0 ? "-inf" : "nan";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const abs = Math.abs(x);
  let exponential = abs.toExponential(DIGITS - 1);
  const e = exponential.indexOf("e");
  const exponent = Number(exponential.slice(e + 1));
  const last = exponential.charCodeAt(e - 1) - 48;
  // Rounded up to an odd last digit from a tie: the even one is one below (a
  // carry into a new digit always ends in 0, which is even).
  const down = last % 2 === 1 && isTie(abs, exponent);
  if (down) exponential = exponential.slice(0, e - 1) + String(last - 1) + exponential.slice(e);
  const sign = x < 0 ? "-" : "";
  if (exponent < -4 || exponent >= DIGITS) {
    const mantissa = trimFraction(exponential.slice(0, e));
    const digits = String(Math.abs(exponent)).padStart(2, "0");
    return `${sign}${mantissa}e${exponent < 0 ? "-" : "+"}${digits}`;
  }
  // Fixed notation, from the 14 digits toExponential rounded.
  const digits = exponential.slice(0, 1) + exponential.slice(2, e);
  const text =
    exponent >= 0
      ? `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`
      : `0.${"0".repeat(-exponent - 1)}${digits}`;
  return sign + trimFraction(text);
}

/** Rates from this many items per second up to RATE_TO are shown to 6 decimals. */
const RATE_FROM = 1e-4;
const RATE_TO = 1e8;

/**
 * The `rate` a value shows: rounded to 6 decimals from 1e-4 to 1e8 items per
 * second, as write-6.lua's shown_rate() rounds it (the same double operations,
 * so the same double). Such a number has at most 14 significant digits, so
 * JavaScript's text for it is printf's "%.14g" too: no formatting of our own on
 * a prebuilt write. (The ETA is computed from the rate before rounding.)
 */
export function shownRate(rate: number): number {
  return rate >= RATE_FROM && rate < RATE_TO ? Math.floor(rate * 1e6 + 0.5) / 1e6 : rate;
}

/** A shown rate's text, as cjson writes it in the full path. */
export function rateText(shown: number): string {
  return shown >= RATE_FROM && shown <= RATE_TO ? String(shown) : luaNumberText(shown);
}

/**
 * A number as cjson writes it in the full path ("%.14g"): whole numbers below
 * 10^14 as their digits, which is what counts and totals almost always are.
 */
function jsonNumber(x: number): string {
  return Number.isInteger(x) && Math.abs(x) < 1e14 ? String(x) : luaNumberText(x);
}

/** What a tracker builds its next write on: what its last write returned. */
export interface BuildBase {
  /** The state's exact text: the script compares it with the stored one. */
  readonly text: string;
  readonly state: JobState;
  /** The value's text from `,"id":` up to its meta (what a write does not change). */
  readonly fixed: string;
  /** The value's end: `,"meta":{...}}`, or `}` without meta. */
  readonly suffix: string;
  /** The length of `suffix` in bytes. */
  readonly suffixBytes: number;
  /** The length of `fixed` and `suffix` in bytes. */
  readonly tailBytes: number;
  /** The tracker's own count and errors as that write applied them. */
  readonly applied: { readonly count: number; readonly errors: number };
}

const META_MARK = ',"meta":';

/** The days of the last writes' times and ETAs (an ETA often falls on another day). */
const updatedDay = new IsoDay();
const etaDay = new IsoDay();

/**
 * The base a full-path write's reply gives (its state and tail, see
 * write-6.lua's Returns), or null when the next write may not be prebuilt.
 */
export function baseFromReply(
  text: string,
  tail: string,
  applied: BuildBase["applied"],
): BuildBase | null {
  const state = readState(text);
  if (state === null || state.token === "" || !tail.startsWith(',"id":') || !tail.endsWith("}")) {
    return null;
  }
  // Only the meta key can be an unescaped ',"meta":', and it comes last (lib.lua).
  const at = tail.indexOf(META_MARK);
  const tailBytes = Buffer.byteLength(tail);
  const suffix = at < 0 ? "}" : tail.slice(at);
  return {
    text,
    state,
    fixed: at < 0 ? tail.slice(0, -1) : tail.slice(0, at),
    suffix,
    suffixBytes: Buffer.byteLength(suffix),
    tailBytes,
    applied,
  };
}

/** The base for the write after `built`, once the script stored it. */
export function nextBase(built: Built, applied: BuildBase["applied"]): BuildBase {
  const tailBytes = built.state.length - built.headLength;
  return {
    ...built.on,
    text: built.text,
    state: built.state,
    suffix: built.suffix,
    suffixBytes: built.suffixBytes,
    tailBytes,
    applied,
  };
}

/** A tracker's view for its next write. */
export interface BuildInput {
  count: number;
  errors: number;
  total: number;
  /** The highest seq the tracker has seen. */
  lastSeen: number;
  now: number;
  alpha: number;
  heartbeat: number;
  retention: number;
  /** Meta as JSON text, "" = keep the stored one. */
  meta: string;
  token: string;
}

/** A prebuilt write: the value, the state to store with it and what the tracker learns. */
export interface Built {
  /** The base it was built on: the script compares its state text and value length. */
  on: BuildBase;
  value: string;
  /** The state's text, stored with the value. */
  text: string;
  state: JobState;
  suffix: string;
  suffixBytes: number;
  /** The length of the value before `,"id":` (ASCII: characters are bytes). */
  headLength: number;
  rate: number | null;
  /** Estimated finish, ms since the epoch, or -1. */
  eta: number;
}

/**
 * Builds the value and state the full path would write for a running write
 * without an error message, or returns null when the full path must run: the
 * base carries another token, housekeeping is due, the clock went back before
 * the last housekeeping, or the clock reads past the year 9999. An ETA past
 * that year is unknown (null), on both paths.
 */
export function prebuild(base: BuildBase, input: BuildInput): Built | null {
  const s = base.state;
  const slack = Math.min(60000, Math.floor(input.retention / 10));
  // A clock that went back (another worker's, or this one's) counts as due too.
  const due = input.now - s.refreshedMs >= slack || input.now < s.refreshedMs;
  if (s.token !== input.token || due) return null;
  const count = s.count + input.count - base.applied.count;
  const errors = s.errors + input.errors - base.applied.errors;
  const seq = Math.max(s.seq, input.lastSeen) + 1;
  const now = input.now;

  // The full path's smooth() and measures(), operation for operation, so that
  // the doubles come out the same.
  let { emaDn, emaDt } = s;
  const dn = count - s.count;
  const dt = now - s.updatedMs;
  if (dt > 0 && dn >= 0) {
    if (emaDn !== null && emaDt !== null) {
      emaDn = input.alpha * dn + (1 - input.alpha) * emaDn;
      emaDt = input.alpha * dt + (1 - input.alpha) * emaDt;
    } else if (dn > 0) {
      emaDn = dn;
      emaDt = dt;
    }
  }
  const total = input.total;
  const percent = total > 0 ? Math.max(0, Math.min(100, Math.floor((count * 100) / total))) : 100;
  const exact = emaDn !== null && emaDt !== null && emaDt > 0 ? (emaDn * 1000) / emaDt : null;
  let eta = -1;
  if (count >= total) eta = now;
  else if (exact !== null && exact > 0) eta = now + Math.ceil(((total - count) / exact) * 1000);
  const rate = exact === null ? null : shownRate(exact);
  // A stalled job's ETA drifts past the year 9999: unknown, as write-6.lua's
  // finish_times() makes it (no reader parses a longer year).
  if (eta > LAST_ISO_MS) eta = -1;
  // toISOString() writes years past 9999 otherwise than Lua's iso().
  if (now < 0 || now > LAST_ISO_MS) return null;

  const suffix = input.meta === "" ? base.suffix : `${META_MARK}${input.meta}}`;
  // The same meta as the base's costs no counting of bytes.
  const suffixBytes = suffix === base.suffix ? base.suffixBytes : Buffer.byteLength(suffix);
  const tailBytes = base.tailBytes - base.suffixBytes + suffixBytes;
  const head =
    `{"seq":${jsonNumber(seq)},"count":${jsonNumber(count)},"total":${jsonNumber(total)}` +
    `,"percent":${percent}` +
    `,"status":"running","updated_at":"${updatedDay.format(now)}","finished_at":null` +
    `,"estimated_finished_at":${eta >= 0 ? `"${etaDay.format(eta)}"` : "null"}` +
    (rate !== null ? `,"rate":${rateText(rate)}` : "") +
    (errors !== 0 ? `,"error_count":${jsonNumber(errors)}` : "") +
    `,"heartbeat":${jsonNumber(input.heartbeat)},"retention":${jsonNumber(input.retention)}`;
  const value = head + base.fixed + suffix;
  const state: JobState = {
    seq,
    count,
    errors,
    updatedMs: now,
    emaDn,
    emaDt,
    refreshedMs: s.refreshedMs,
    length: head.length + tailBytes,
    token: s.token,
  };
  return {
    on: base,
    value,
    text: packState(state),
    state,
    suffix,
    suffixBytes,
    headLength: head.length,
    rate,
    eta,
  };
}
