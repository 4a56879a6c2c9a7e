/**
 * findRedisServer: REDISMS_SYSTEM_BINARY must name an executable file. One
 * that does not was passed on to redis-memory-server, which then downloads a
 * Redis: the embedded Redis must only ever be the system's.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedRedis } from "../../server/embedded-redis";
import { findExecutable, findRedisServer } from "../../server/find-executable";
import { InvalidArgumentError } from "../../shared/errors";

let dir: string;
let executable: string;
let plain: string;
let directory: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "find-executable-"));
  executable = join(dir, "redis-server");
  writeFileSync(executable, "#!/bin/sh\n");
  chmodSync(executable, 0o755);
  plain = join(dir, "not-executable");
  writeFileSync(plain, "");
  chmodSync(plain, 0o644);
  // A directory passes an X_OK check; it is not a program.
  directory = join(dir, "bin", "redis-server");
  mkdirSync(directory, { recursive: true });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function refusal(value: string): InvalidArgumentError {
  try {
    findRedisServer({ REDISMS_SYSTEM_BINARY: value, PATH: "" });
  } catch (error) {
    return error as InvalidArgumentError;
  }
  throw new Error(`REDISMS_SYSTEM_BINARY=${value} was accepted`);
}

test("an executable REDISMS_SYSTEM_BINARY is used as is", () => {
  expect(findRedisServer({ REDISMS_SYSTEM_BINARY: executable, PATH: "" })).toBe(executable);
});

test("a missing, non-executable or directory REDISMS_SYSTEM_BINARY is refused, naming it", () => {
  const cases: [string, RegExp][] = [
    [join(dir, "missing"), /does not exist/],
    [directory, /is not a regular file/],
    // X_OK fails on a file without any x bit even for root.
    [plain, /is not executable/],
  ];
  for (const [value, reason] of cases) {
    const error = refusal(value);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain(`REDISMS_SYSTEM_BINARY=${JSON.stringify(value)}`);
    expect(error.message).toMatch(reason);
  }
});

test("unset or empty REDISMS_SYSTEM_BINARY falls back to PATH, skipping directories", () => {
  expect(findRedisServer({ PATH: dir })).toBe(executable);
  expect(findRedisServer({ REDISMS_SYSTEM_BINARY: "", PATH: dir })).toBe(executable);
  expect(findExecutable("redis-server", { PATH: join(dir, "bin") })).toBeUndefined();
});

test("startEmbeddedRedis refuses a bad REDISMS_SYSTEM_BINARY before redis-memory-server runs", async () => {
  const saved = { ...process.env };
  // Should the check regress, redis-memory-server tries to download: make that
  // fail at once on a closed port instead of fetching Redis from the internet.
  process.env.REDISMS_SYSTEM_BINARY = join(dir, "missing");
  process.env.REDISMS_DOWNLOAD_URL = "http://127.0.0.1:1/redis.tar.gz";
  process.env.REDISMS_DOWNLOAD_DIR = join(dir, "downloads");
  try {
    await expect(startEmbeddedRedis()).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("REDISMS_SYSTEM_BINARY"),
    });
  } finally {
    process.env = saved;
  }
});
