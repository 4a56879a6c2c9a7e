/** Boundary checks of the tracker's options and arguments: each throws a typed error naming the value. */
import { InvalidArgumentError } from "../errors/invalid-argument-error";
import type { JsonObject } from "../job";
import { MAX_META_BYTES, MAX_TOTAL, MAX_WEIGHT } from "./options";

function show(value: unknown): string {
  if (
    typeof value === "number" ||
    typeof value === "boolean" ||
    value === null ||
    value === undefined
  ) {
    return String(value);
  }
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value;
}

/** A non-negative integer not above MAX_TOTAL. */
export function validateCount(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > MAX_TOTAL) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a non-negative integer up to 10^14, got ${show(value)}`,
    );
  }
  return value;
}

/** A child's weight: a positive integer up to MAX_WEIGHT. */
export function validateWeight(value: unknown): number {
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > MAX_WEIGHT
  ) {
    throw new InvalidArgumentError(
      `Expected \`weight\` to be a positive integer up to ${MAX_WEIGHT}, got ${show(value)}`,
    );
  }
  return value;
}

/** A positive whole number of milliseconds. */
export function validateDuration(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a positive integer of milliseconds, got ${show(value)}`,
    );
  }
  return value;
}

export function validateName(value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 256) {
    throw new InvalidArgumentError(
      `Expected \`name\` to be a string of 1 to 256 characters, got ${show(value)}`,
    );
  }
  return value;
}

/**
 * Lua's JSON decoder (lua-cjson in Redis) refuses nesting deeper than 1,000
 * levels; the write script decodes the whole value, one level above meta.
 */
export const MAX_META_DEPTH = 100;

/**
 * A lone surrogate, which JSON.stringify writes as a `\udXXX` escape (after an
 * odd run of backslashes: an even one is escaped backslashes followed by text).
 * lua-cjson refuses it, and a value Redis cannot decode looks like a missing job
 * to the write script: it would recreate the job from one tracker's view.
 */
const LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\ud[89a-f]/;

/** The deepest nesting of objects and arrays in JSON text. */
function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/**
 * Returns the meta object as JSON text, checked to be a plain object of at most
 * 16 KB and MAX_META_DEPTH levels whose strings are well-formed Unicode: what
 * Redis's JSON decoder reads back.
 */
export function encodeMeta(value: unknown): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(
      `Expected \`meta\` to be a plain JSON object, got ${show(value)}`,
    );
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value as JsonObject) as string | undefined;
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected \`meta\` to be JSON-serialisable: ${(error as Error).message}`,
    );
  }
  // toJSON() may turn an object into anything (a Date into a string).
  if (typeof text !== "string" || !text.startsWith("{")) {
    throw new InvalidArgumentError(
      `Expected \`meta\` to serialise to a JSON object, got ${show(text)}`,
    );
  }
  // A UTF-16 unit is at most 3 bytes of UTF-8: short text needs no counting
  // (setMeta() is on the way from a worker's update to its watchers).
  if (text.length * 3 > MAX_META_BYTES && Buffer.byteLength(text) > MAX_META_BYTES) {
    throw new InvalidArgumentError(
      `Expected \`meta\` to be at most ${MAX_META_BYTES} bytes as JSON, got ${Buffer.byteLength(text)}`,
    );
  }
  if (text.includes("\\u") && LONE_SURROGATE.test(text)) {
    throw new InvalidArgumentError(
      "Expected `meta` to hold well-formed Unicode strings, got a lone surrogate (half of a UTF-16 pair)",
    );
  }
  // Each level takes at least two characters: short text needs no scan.
  if (text.length > 2 * MAX_META_DEPTH && jsonDepth(text) > MAX_META_DEPTH) {
    throw new InvalidArgumentError(
      `Expected \`meta\` to nest at most ${MAX_META_DEPTH} levels of objects and arrays, got ${jsonDepth(text)}`,
    );
  }
  return text;
}

/** Error messages are stored with the job; keep them bounded. */
export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return (text || "failed").slice(0, 1024);
}
