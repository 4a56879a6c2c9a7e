/**
 * The write script's packed arguments, read back the way write-5.lua's
 * struct.unpack reads them ('<H' length then bytes; little-endian doubles).
 */
import { packConstants, packNumbers, type WriteConstants } from "../../shared/tracker/write-args";

function unpackStrings(packed: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < packed.length) {
    const length = packed.readUInt16LE(at);
    out.push(packed.subarray(at + 2, at + 2 + length).toString("utf8"));
    at += 2 + length;
  }
  expect(at).toBe(packed.length);
  return out;
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
  name: "Import «Straße» ✓",
  parent: "",
  weight: 3,
  completeWithChildren: true,
};

test("the constant part holds the 12 strings in the script's order, empty ones and UTF-8 included", () => {
  expect(unpackStrings(packConstants(constants))).toEqual([
    "user:3421",
    "job-1",
    "0a1b2c3d4e5f",
    "SPUBLISH",
    "30000",
    "86400000",
    "",
    "2026-11-28T10:00:00.000Z",
    "Import «Straße» ✓",
    "",
    "3",
    "1",
  ]);
  expect(unpackStrings(packConstants({ ...constants, completeWithChildren: false })).at(-1)).toBe(
    "0",
  );
});

test("a part longer than its 16-bit length prefix is refused rather than cut", () => {
  expect(() => packConstants({ ...constants, name: "x".repeat(0x10000) })).toThrow(RangeError);
  expect(unpackStrings(packConstants({ ...constants, name: "x".repeat(0xffff) }))[8]).toHaveLength(
    0xffff,
  );
});

test("the numbers are eight little-endian doubles, exact up to 2^53", () => {
  const packed = packNumbers({
    count: 2 ** 53 - 1,
    errors: 7,
    total: 1_000_000,
    seq: 42,
    retention: 86_400_000,
    alpha: 0.3,
    now: 1_795_900_000_123,
    builtOnLength: 412,
  });
  expect(packed).toHaveLength(64);
  expect([0, 8, 16, 24, 32, 40, 48, 56].map((at) => packed.readDoubleLE(at))).toEqual([
    2 ** 53 - 1,
    7,
    1_000_000,
    42,
    86_400_000,
    0.3,
    1_795_900_000_123,
    412,
  ]);
});
