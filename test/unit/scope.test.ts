import {
  formatScope,
  InvalidScopeError,
  isValidScope,
  parseScope,
  scopeKeys,
  scopeFromChannel,
  writersKey,
} from "../../shared/isomorphic";

describe("scope grammar", () => {
  test.each([
    ["user:3421", ["user", "3421"]],
    ["a", ["a"]],
    ["Org_1.x@y-z:team", ["Org_1.x@y-z", "team"]],
  ])("accepts %j", (input, parts) => {
    expect(parseScope(input)).toEqual(parts);
    expect(formatScope(input)).toBe(parts.join(":"));
  });

  test("accepts arrays of strings and integers", () => {
    expect(formatScope(["user", 3421])).toBe("user:3421");
    expect(formatScope(["user", -1])).toBe("user:-1");
  });

  test("an array with holes is refused, not read as empty parts", () => {
    // eslint-disable-next-line no-sparse-arrays -- the holes are the point
    expect(() => formatScope([, "user"])).toThrow(InvalidScopeError);
    expect(() => formatScope(new Array(3))).toThrow(InvalidScopeError);
    expect(isValidScope(["user", , "1"])).toBe(false); // eslint-disable-line no-sparse-arrays
  });

  test("accepts exactly 8 parts and 256 characters", () => {
    expect(formatScope(new Array(8).fill("a"))).toBe("a:a:a:a:a:a:a:a");
    const long = ["a".repeat(128), "b".repeat(127)].join(":");
    expect(long.length).toBe(256);
    expect(formatScope(long)).toBe(long);
  });

  const invalid: [string, unknown][] = [
    ["a wildcard", "user:*"],
    ["a question mark", "user:?"],
    ["a character class", "user:[0-9]"],
    ["a hash tag", "user:{1}"],
    ["a space", "user 1"],
    ["a control character", "user:\u0001"],
    ["NUL", "user:\u0000"],
    ["an empty part", "user::1"],
    ["a leading colon", ":user"],
    ["a trailing colon", "user:"],
    ["the empty string", ""],
    ["full-width digits", "user:３４２１"],
    ["__proto__ as a path", "__proto__:x/y"],
    ["9 parts", "a:b:c:d:e:f:g:h:i"],
    ["a part over 128 chars", `user:${"x".repeat(129)}`],
    ["257 characters", `${"a".repeat(128)}:${"b".repeat(128)}`],
    ["10 KB", "u".repeat(10_240)],
    ["a non-integer number", ["user", 1.5]],
    ["NaN", ["user", Number.NaN]],
    ["an object part", ["user", {}]],
    ["an array of objects", [{ a: 1 }]],
    ["a nested array", [["user"]]],
    ["null", null],
    ["undefined", undefined],
    ["a number", 3421],
    ["an object", { scope: "user:1" }],
    ["an empty array", []],
  ];
  test.each(invalid)("rejects %s with InvalidScopeError", (_label, input) => {
    expect(() => parseScope(input)).toThrow(InvalidScopeError);
    expect(isValidScope(input)).toBe(false);
    try {
      parseScope(input);
    } catch (error) {
      expect((error as InvalidScopeError).code).toBe("invalid_scope");
      expect((error as Error).message.length).toBeGreaterThan(10);
    }
  });

  test("names the offending part", () => {
    expect(() => parseScope("user:3*")).toThrow(/part 1 "3\*"/);
    expect(() => parseScope(["ok", "bad part"])).toThrow(/part 1 "bad part"/);
  });

  test("__proto__ is an ordinary valid part, not a prototype access", () => {
    expect(formatScope("__proto__")).toBe("__proto__");
  });
});

describe("key names", () => {
  test("standalone: <prefix>:<scope>, channel = hash", () => {
    const keys = scopeKeys("resque:pace", "user:3421");
    expect(keys.hash).toBe("resque:pace:user:3421");
    expect(keys.channel).toBe(keys.hash);
    expect(keys.expiry).toBe("resque:pace:user:3421:#exp");
    expect(writersKey(keys, "job-1")).toBe("resque:pace:user:3421:#w:job-1");
  });

  test("cluster: the scope is a hash tag", () => {
    const keys = scopeKeys("resque:pace", "user:3421", true);
    expect(keys.hash).toBe("resque:pace:{user:3421}");
    expect(keys.expiry).toBe("resque:pace:{user:3421}:#exp");
  });

  test("auxiliary keys can never collide with another scope's hash", () => {
    // '#' is not allowed in scope parts, so "user:3421:#exp" is never a scope.
    expect(isValidScope("user:3421:#exp")).toBe(false);
  });

  test("scopeFromChannel inverts both forms", () => {
    expect(scopeFromChannel("resque:pace", "resque:pace:user:1")).toBe("user:1");
    expect(scopeFromChannel("resque:pace", "resque:pace:{user:1}")).toBe("user:1");
    expect(scopeFromChannel("resque:pace", "other:user:1")).toBeNull();
  });
});
