import { grantsAllow, isValidGrant } from "../../shared/isomorphic";

describe("token grants", () => {
  test("exact scope grants only itself", () => {
    expect(grantsAllow(["user:3421"], "user:3421")).toBe(true);
    expect(grantsAllow(["user:3421"], "user:3422")).toBe(false);
    expect(grantsAllow(["user:3421"], "user:34211")).toBe(false);
    expect(grantsAllow(["user:3421"], "user:3421:x")).toBe(false);
  });

  test("prefix:* grants every scope below the prefix, not the prefix itself or a longer part", () => {
    expect(grantsAllow(["org:7:*"], "org:7:user:1")).toBe(true);
    expect(grantsAllow(["org:7:*"], "org:7")).toBe(false);
    expect(grantsAllow(["org:7:*"], "org:70:user:1")).toBe(false);
    expect(grantsAllow(["user:*"], "userx:1")).toBe(false);
  });

  test("grant syntax", () => {
    expect(isValidGrant("user:*")).toBe(true);
    expect(isValidGrant("user:1")).toBe(true);
    expect(isValidGrant("*")).toBe(false);
    expect(isValidGrant("user:*:x")).toBe(false);
    expect(isValidGrant("user*")).toBe(false);
    expect(isValidGrant(42)).toBe(false);
  });
});
