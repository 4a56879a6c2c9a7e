/** The gateway's environment (DESIGN.md, "Configuration of the gateway"), parsed by configFromEnv. */
import { configFromEnv } from "../../server";
import { InvalidArgumentError } from "../../shared/errors";
import { parseClusterNodes } from "../../server/config";

const SECRET = "s".repeat(32);

test("defaults", () => {
  expect(configFromEnv({ PACE_SECRET: SECRET })).toEqual({
    port: 3000,
    host: undefined,
    redisUrl: undefined,
    clusterNodes: undefined,
    secret: SECRET,
    prefix: "resque:pace",
    allowedOrigins: [],
    demo: false,
    logLevel: "info",
  });
});

test("every variable", () => {
  const config = configFromEnv({
    PORT: "8080",
    HOST: "0.0.0.0",
    REDIS_URL: "rediss://user:pw@redis.example:6380/2",
    REDIS_CLUSTER_NODES: "10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002",
    PACE_SECRET: SECRET,
    PACE_PREFIX: "myapp:progress",
    PACE_ALLOWED_ORIGINS: "https://a.example, https://b.example:8443",
    PACE_DEMO: "1",
    LOG_LEVEL: "debug",
  });
  expect(config).toEqual({
    port: 8080,
    host: "0.0.0.0",
    redisUrl: "rediss://user:pw@redis.example:6380/2",
    clusterNodes: [
      { host: "10.0.0.1", port: 7000 },
      { host: "10.0.0.2", port: 7001 },
      { host: "::1", port: 7002 },
    ],
    secret: SECRET,
    prefix: "myapp:progress",
    allowedOrigins: ["https://a.example", "https://b.example:8443"],
    demo: true,
    logLevel: "debug",
  });
});

test("PACE_SECRET is required, and long enough, unless in demo mode", () => {
  expect(() => configFromEnv({})).toThrow(/PACE_SECRET is required/);
  expect(() => configFromEnv({ PACE_SECRET: "" })).toThrow(/PACE_SECRET is required/);
  expect(() => configFromEnv({ PACE_SECRET: "short" })).toThrow(/PACE_SECRET.*32 bytes/);
  const demo = configFromEnv({ PACE_DEMO: "1" });
  expect(demo.secret).toBeUndefined();
  // Demo mode binds to loopback unless HOST says otherwise.
  expect(demo.host).toBe("127.0.0.1");
});

test("bad values name the variable to fix", () => {
  expect(() => configFromEnv({ PACE_SECRET: SECRET, PORT: "http" })).toThrow(/PORT/);
  expect(() => configFromEnv({ PACE_SECRET: SECRET, PORT: "70000" })).toThrow(/PORT/);
  expect(() => configFromEnv({ PACE_SECRET: SECRET, REDIS_URL: "localhost:6379" })).toThrow(
    /REDIS_URL/,
  );
  expect(() => configFromEnv({ PACE_SECRET: SECRET, PACE_PREFIX: "bad prefix" })).toThrow(
    /PACE_PREFIX/,
  );
  expect(() =>
    configFromEnv({ PACE_SECRET: SECRET, PACE_ALLOWED_ORIGINS: "app.example.com" }),
  ).toThrow(/PACE_ALLOWED_ORIGINS/);
  expect(() => parseClusterNodes("10.0.0.1")).toThrow(/REDIS_CLUSTER_NODES/);
  expect(() => parseClusterNodes(" , ")).toThrow(/REDIS_CLUSTER_NODES/);
  expect(() => parseClusterNodes("a:99999")).toThrow(/REDIS_CLUSTER_NODES/);
});

test("LOG_LEVEL is one of pino's levels or silent, else refused naming LOG_LEVEL", () => {
  for (const level of ["trace", "debug", "info", "warn", "error", "fatal", "silent"]) {
    expect(configFromEnv({ PACE_SECRET: SECRET, LOG_LEVEL: level }).logLevel).toBe(level);
  }
  // Without the check, pino's constructor threw its own message and the CLI exited 1.
  for (const level of ["verbose", "INFO", " info"]) {
    let error: unknown;
    try {
      configFromEnv({ PACE_SECRET: SECRET, LOG_LEVEL: level });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).code).toBe("invalid_argument");
    expect((error as Error).message).toMatch(/^Expected LOG_LEVEL to be one of .*silent/);
  }
});
