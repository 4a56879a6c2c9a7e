/**
 * Scope grammar (DESIGN.md, "Redis layout"). Isomorphic: no Node-only imports.
 *
 * A scope is an array of parts or the string of those parts joined with `:`.
 * Each part matches PART_PATTERN; at most MAX_PARTS parts and MAX_SCOPE_LENGTH
 * characters in all. Integers are accepted as parts for convenience
 * (`["user", 3421]`); anything else is rejected before Redis is touched.
 */
import { InvalidScopeError } from "./errors/invalid-scope-error";

/** One scope part: letters, digits and `_ . @ -`, 1 to 128 characters. */
export const PART_PATTERN = /^[A-Za-z0-9_.@-]{1,128}$/;
export const MAX_PARTS = 8;
export const MAX_SCOPE_LENGTH = 256;

/** What callers may pass as a scope. */
export type ScopeInput = string | ReadonlyArray<string | number>;

function describe(value: unknown): string {
  if (typeof value === "string") {
    return value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}…` : JSON.stringify(value);
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

function partToString(part: unknown, index: number): string {
  if (typeof part === "number") {
    if (Number.isSafeInteger(part)) return String(part);
    throw new InvalidScopeError(
      `Scope part ${index} must be an integer when it is a number, got ${part}`,
    );
  }
  if (typeof part !== "string") {
    throw new InvalidScopeError(
      `Scope part ${index} must be a string or an integer, got ${describe(part)}`,
    );
  }
  if (!PART_PATTERN.test(part)) {
    const reason =
      part.length === 0
        ? "is empty"
        : "has characters outside [A-Za-z0-9_.@-] or more than 128 of them";
    throw new InvalidScopeError(`Scope part ${index} ${describe(part)} ${reason}`, part);
  }
  return part;
}

/**
 * Validates a scope and returns its parts.
 * @throws InvalidScopeError naming the offending part.
 */
export function parseScope(input: unknown): string[] {
  let raw: unknown[];
  if (typeof input === "string") {
    if (input.length > MAX_SCOPE_LENGTH) {
      throw new InvalidScopeError(
        `Scope is ${input.length} characters long; at most ${MAX_SCOPE_LENGTH} are allowed`,
      );
    }
    raw = input.split(":");
  } else if (Array.isArray(input)) {
    // Array.from reads holes as undefined (map() would skip them and join()
    // would make them empty parts), so `[, "user"]` is refused below. A huge
    // array is refused before it is copied.
    raw = input.length > MAX_PARTS ? input : Array.from(input as unknown[]);
  } else {
    throw new InvalidScopeError(
      `Expected a scope string or array of parts, got ${describe(input)}`,
    );
  }
  if (raw.length === 0) throw new InvalidScopeError("Scope has no parts");
  if (raw.length > MAX_PARTS) {
    throw new InvalidScopeError(`Scope has ${raw.length} parts; at most ${MAX_PARTS} are allowed`);
  }
  const parts = raw.map(partToString);
  const length = parts.reduce((sum, p) => sum + p.length, parts.length - 1);
  if (length > MAX_SCOPE_LENGTH) {
    throw new InvalidScopeError(
      `Scope is ${length} characters long; at most ${MAX_SCOPE_LENGTH} are allowed`,
    );
  }
  return parts;
}

/** Validates a scope and returns its canonical string form (`user:3421`). */
export function formatScope(input: unknown): string {
  return parseScope(input).join(":");
}

/** True when `input` is a valid scope; never throws. */
export function isValidScope(input: unknown): boolean {
  try {
    parseScope(input);
    return true;
  } catch {
    return false;
  }
}
