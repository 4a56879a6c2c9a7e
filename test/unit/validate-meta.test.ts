import { InvalidArgumentError } from "../../shared/errors/invalid-argument-error";
import { MAX_META_BYTES } from "../../shared/tracker/options";
import { encodeMeta } from "../../shared/tracker/validate";

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
