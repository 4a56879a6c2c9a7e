import { InvalidArgumentError } from "../../shared/errors/invalid-argument-error";
import { MAX_META_BYTES } from "../../shared/tracker/options";
import { encodeMeta, MAX_META_DEPTH } from "../../shared/tracker/validate";

test("meta is limited in UTF-8 bytes, not characters, right at the limit", () => {
  // '{"b":"' and '"}' are 8 bytes; "é" is 2.
  const fits = (MAX_META_BYTES - 8) / 2;
  expect(Buffer.byteLength(encodeMeta({ b: "é".repeat(fits) }))).toBe(MAX_META_BYTES);
  expect(() => encodeMeta({ b: "é".repeat(fits + 1) })).toThrow(InvalidArgumentError);
  // Three-byte characters: a third of the limit in characters already passes it.
  expect(() => encodeMeta({ b: "€".repeat(Math.ceil(MAX_META_BYTES / 3)) })).toThrow(
    InvalidArgumentError,
  );
  expect(encodeMeta({ b: "x".repeat(MAX_META_BYTES - 8) })).toHaveLength(MAX_META_BYTES);
  expect(() => encodeMeta({ b: "x".repeat(MAX_META_BYTES - 7) })).toThrow(InvalidArgumentError);
});

test("meta with a lone surrogate is refused (Redis's JSON decoder cannot read it back)", () => {
  expect(() => encodeMeta({ s: "\ud800" })).toThrow(/lone surrogate/);
  expect(() => encodeMeta({ s: "a\udc00b" })).toThrow(InvalidArgumentError);
  expect(() => encodeMeta({ ["k\udbff"]: 1 })).toThrow(InvalidArgumentError);
  // A whole pair, an escaped backslash before the letters "ud800", control characters.
  expect(encodeMeta({ s: "😀" })).toBe('{"s":"😀"}');
  expect(encodeMeta({ s: "\\ud800" })).toBe('{"s":"\\\\ud800"}');
  expect(encodeMeta({ s: "\\\\ud800\u0001" })).toBe('{"s":"\\\\\\\\ud800\\u0001"}');
  // An odd run of backslashes before an escape is an escaped backslash and the escape.
  expect(() => encodeMeta({ s: "\\\ud800" })).toThrow(InvalidArgumentError);
});

test("meta nests at most MAX_META_DEPTH levels", () => {
  const nest = (levels: number, inner: unknown = 1): unknown => {
    let v = inner;
    for (let i = 0; i < levels; i++) v = i % 2 === 0 ? { a: v } : [v];
    return v;
  };
  // meta itself is the first level.
  expect(() => encodeMeta({ m: nest(MAX_META_DEPTH - 1) })).not.toThrow();
  expect(() => encodeMeta({ m: nest(MAX_META_DEPTH) })).toThrow(/nest at most 100 levels/);
  // Brackets inside strings do not count.
  expect(() => encodeMeta({ s: "{[".repeat(500) })).not.toThrow();
});

test("meta must serialise to a JSON object (toJSON may turn it into something else)", () => {
  expect(() => encodeMeta(new Date(0))).toThrow(/serialise to a JSON object/);
  expect(() => encodeMeta({ toJSON: () => undefined })).toThrow(InvalidArgumentError);
  expect(() => encodeMeta({ toJSON: () => [1] })).toThrow(InvalidArgumentError);
  expect(encodeMeta({ toJSON: () => ({ a: 1 }) })).toBe('{"a":1}');
  expect(() => encodeMeta([])).toThrow(/plain JSON object/);
});
