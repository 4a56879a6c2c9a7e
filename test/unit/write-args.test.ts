/**
 * The write script's packed arguments, read back the way write-6.lua's
 * string.match patterns read them: fields separated by single spaces, the
 * constants' name (which may hold spaces) last.
 */
import { packConstants, packNumbers, type WriteConstants } from "../../shared/tracker/write-args";

/** write-6.lua's pattern for ARGV[5], as a regular expression. */
const CONSTANTS = new RegExp(`^${"([^ ]*) ".repeat(11)}([\\s\\S]*)$`);

function unpackConstants(packed: string): string[] {
  const match = CONSTANTS.exec(packed);
  expect(match).not.toBeNull();
  return (match as RegExpExecArray).slice(1);
}

const constants: WriteConstants = {
  scope: "user:3421",
  id: "job-1",
  trackerId: "0a1b2c3d4e5f",
  heartbeat: 30_000,
  retention: 86_400_000,
  publish: "SPUBLISH",
  token: "",
  startedAt: "2026-11-28T10:00:00.000Z",
  name: "Import «Straße» ✓ with  spaces\nand a new line ",
  parent: "",
  weight: 3,
  completeWithChildren: true,
};

test("the constant part holds the 12 strings in the script's order, empty ones, spaces in the name and UTF-8 included", () => {
  expect(unpackConstants(packConstants(constants))).toEqual([
    "user:3421",
    "job-1",
    "0a1b2c3d4e5f",
    "SPUBLISH",
    "30000",
    "86400000",
    "",
    "2026-11-28T10:00:00.000Z",
    "",
    "3",
    "1",
    "Import «Straße» ✓ with  spaces\nand a new line ",
  ]);
  const other = unpackConstants(
    packConstants({
      ...constants,
      name: "",
      token: "abc+/0",
      parent: "p-1",
      completeWithChildren: false,
    }),
  );
  expect([other[6], other[8], other[10], other[11]]).toEqual(["abc+/0", "p-1", "0", ""]);
});

test("the numbers are text that reads back as the same doubles, the built-on length first", () => {
  const numbers = {
    count: 2 ** 53 - 1,
    errors: 7,
    total: 1e21,
    seq: 42,
    retention: 86_400_000,
    alpha: 0.3,
    now: 1_795_900_000_123,
    builtOnLength: 412,
  };
  const packed = packNumbers(numbers);
  expect(packed).toMatch(/^[^ ]+( [^ ]+){7}$/);
  expect(packed.split(" ").map(Number)).toEqual([
    412,
    2 ** 53 - 1,
    7,
    1e21,
    42,
    86_400_000,
    0.3,
    1_795_900_000_123,
  ]);
});
