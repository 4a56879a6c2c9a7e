/**
 * Tokens at the handshake (missing, malformed, bad signature, `alg: none`,
 * wrong algorithm, expired, no `exp`, bad claims), grants on subscribe (exact,
 * prefix, wrong scope) and disconnection when the token expires.
 */
import pino from "pino";
import { createGateway, signScopeToken } from "../../server";
import {
  type ClientSocket,
  TEST_SECRET,
  TestGateway,
  connected,
  rawToken,
  subscribe,
  waitFor,
} from "../helpers/gateway";

let tg: TestGateway;

beforeAll(async () => {
  // No clock tolerance, so that the expiry test does not wait for it.
  tg = await TestGateway.start({ gateway: { clockTolerance: 0 } });
});

afterAll(async () => {
  await tg.stop();
});

async function refused(token: string | undefined, auth?: unknown): Promise<string> {
  const socket = tg.client(token, auth === undefined ? {} : { auth: auth as object });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", reject);
      socket.connect();
    });
  } catch (error) {
    return (error as Error).message;
  } finally {
    socket.disconnect();
  }
  return "connected";
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

describe("the handshake refuses with connect_error 'unauthorized'", () => {
  test("a missing token", async () => {
    expect(await refused(undefined)).toBe("unauthorized");
    expect(await refused(undefined, { token: 42 })).toBe("unauthorized");
    expect(await refused(undefined, { token: "" })).toBe("unauthorized");
  });

  test("a malformed token", async () => {
    expect(await refused("not-a-jwt")).toBe("unauthorized");
    expect(await refused("a.b.c")).toBe("unauthorized");
    expect(await refused("x".repeat(3000))).toBe("unauthorized");
  });

  test("a bad signature", async () => {
    const forged = await rawToken(
      { scopes: ["user:1"] },
      { secret: "another-secret-that-is-long-enough-000" },
    );
    expect(await refused(forged)).toBe("unauthorized");
    const valid = await tg.token(["user:1"]);
    const [header, , signature] = valid.split(".");
    const tampered = `${header}.${base64url({ scopes: ["user:*"], exp: 4102444800 })}.${signature}`;
    expect(await refused(tampered)).toBe("unauthorized");
  });

  test("alg: none, and algorithms other than HS256", async () => {
    const none = `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ scopes: ["user:1"], exp: 4102444800 })}.`;
    expect(await refused(none)).toBe("unauthorized");
    expect(await refused(await rawToken({ scopes: ["user:1"] }, { alg: "HS512" }))).toBe(
      "unauthorized",
    );
  });

  test("an expired token, and a token without exp", async () => {
    const expired = await rawToken(
      { scopes: ["user:1"] },
      { exp: Math.floor(Date.now() / 1000) - 60 },
    );
    expect(await refused(expired)).toBe("unauthorized");
    expect(await refused(await rawToken({ scopes: ["user:1"] }, { exp: null }))).toBe(
      "unauthorized",
    );
  });

  test("claims that are not grants", async () => {
    expect(await refused(await rawToken({}))).toBe("unauthorized");
    expect(await refused(await rawToken({ scopes: "user:1" }))).toBe("unauthorized");
    expect(await refused(await rawToken({ scopes: ["*"] }))).toBe("unauthorized");
    expect(await refused(await rawToken({ scopes: ["user:{1}"] }))).toBe("unauthorized");
    expect(await refused(await rawToken({ scopes: ["user:1"], cancel: ["a b"] }))).toBe(
      "unauthorized",
    );
    expect(await refused(await rawToken({ scopes: ["user:1"], sub: 7 }))).toBe("unauthorized");
  });

  test("a valid token connects", async () => {
    expect(await refused(await tg.token(["user:1"], { sub: "u1", cancel: ["user:1"] }))).toBe(
      "connected",
    );
  });
});

describe("large tokens", () => {
  /** Connects, or rejects when the connection closes first (a CONNECT packet over the limit). */
  async function connectOrClose(token: string, transport: string): Promise<ClientSocket> {
    const socket = tg.client(token, { transports: [transport] });
    const closed = new Promise<never>((_, reject) =>
      socket.io.once("close", (reason) => reject(new Error(`closed before connect: ${reason}`))),
    );
    closed.catch(() => {});
    await Promise.race([connected(socket), closed]);
    return socket;
  }

  /** `count` distinct grants of about `length` characters each. */
  function grants(count: number, length: number): string[] {
    return Array.from({ length: count }, (_, i) => `org:${i}:${"x".repeat(length - 6)}`);
  }

  test.each([["websocket"], ["polling"]])(
    "a valid token of over 4 KB (50 grants) connects and can subscribe (%s)",
    async (transport) => {
      const scopes = grants(50, 72);
      const token = await tg.token(scopes);
      expect(token.length).toBeGreaterThan(4096);
      const socket = await connectOrClose(token, transport);
      expect(await subscribe(socket, scopes[49] as string)).toMatchObject({ ok: true });
    },
  );

  test("signScopeToken mints nothing longer than the gateway accepts; the longest connects", async () => {
    let longest = "";
    for (let count = 1; count <= 256; count++) {
      const scopes = grants(count, 100);
      const minted = await signScopeToken({ secret: TEST_SECRET, scopes, ttl: 600 }).catch(
        (error: unknown) => error as Error,
      );
      if (minted instanceof Error) {
        expect(minted).toMatchObject({ code: "invalid_argument", message: /8192/ });
        break;
      }
      longest = minted;
    }
    expect(longest.length).toBeGreaterThan(7000);
    expect(longest.length).toBeLessThanOrEqual(8192);
    await expect(
      signScopeToken({ secret: TEST_SECRET, scopes: grants(256, 250), ttl: 600 }),
    ).rejects.toMatchObject({ code: "invalid_argument" });
    for (const transport of ["websocket", "polling"]) {
      const socket = await connectOrClose(longest, transport);
      expect(await subscribe(socket, grants(1, 100)[0] as string)).toMatchObject({ ok: true });
    }
  });
});

describe("grants", () => {
  test("a scope the token does not grant is forbidden and joins nothing", async () => {
    const socket = await tg.connect(await tg.token(["user:1"]));
    const ack = await subscribe(socket, "user:2");
    expect(ack).toEqual({ ok: false, error: { code: "forbidden", message: expect.any(String) } });
    const channels = (await tg.redis.client().call("PUBSUB", "CHANNELS")) as string[];
    expect(channels).not.toContain("resque:pace:user:2");
    let leaked = false;
    socket.on("progress", () => (leaked = true));
    // A write to user:2 must not reach this socket; user:1's must (and comes after).
    await tg.redis.client().publish("resque:pace:user:2", "{}");
    expect((await subscribe(socket, "user:1")).ok).toBe(true);
    expect(leaked).toBe(false);
  });

  test("a prefix grant user:* grants user:1 and user:1:x, not userx:1 nor user", async () => {
    const socket = await tg.connect(await tg.token(["user:*"]));
    expect((await subscribe(socket, "user:1")).ok).toBe(true);
    expect((await subscribe(socket, "user:1:x")).ok).toBe(true);
    for (const scope of ["userx:1", "user", "use:1"]) {
      const ack = await subscribe(socket, scope);
      expect(ack.ok ? "ok" : ack.error.code).toBe("forbidden");
    }
  });

  test("the socket is disconnected when its token expires", async () => {
    // `exp` is in whole seconds: a ttl of 5 leaves 4 to 5 s, enough for the
    // handshake and the subscribe on a loaded machine (this suite has no clock
    // tolerance). The listener is on before anything can end the socket.
    const token = await signScopeToken({ secret: TEST_SECRET, scopes: ["user:1"], ttl: 5 });
    const socket = await tg.connect(token);
    const gone = new Promise<string>((resolve) => socket.once("disconnect", resolve));
    expect((await subscribe(socket, "user:1")).ok).toBe(true);
    expect(await gone).toBe("io server disconnect");
  });
});

describe("configuration", () => {
  test("the gateway refuses a missing or short secret", () => {
    expect(() => createGateway({ secret: "", redis: tg.redis.url })).toThrow(/at least 32 bytes/);
    expect(() => createGateway({ secret: "short", redis: tg.redis.url })).toThrow(
      /at least 32 bytes/,
    );
    expect(() =>
      createGateway({ secret: undefined as unknown as string, redis: tg.redis.url }),
    ).toThrow(/secret/);
  });

  test("signScopeToken validates its input", async () => {
    await expect(signScopeToken({ secret: TEST_SECRET, scopes: [], ttl: 10 })).rejects.toThrow(
      /scopes/,
    );
    await expect(signScopeToken({ secret: TEST_SECRET, scopes: ["a b"], ttl: 10 })).rejects.toThrow(
      /scopes/,
    );
    await expect(signScopeToken({ secret: TEST_SECRET, scopes: ["a"], ttl: 0 })).rejects.toThrow(
      /ttl/,
    );
    await expect(signScopeToken({ secret: "short", scopes: ["a"], ttl: 10 })).rejects.toThrow(
      /32 bytes/,
    );
  });

  test("tokens never appear in the logs", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(line) });
    const logged = await TestGateway.start({ redis: tg.redis, gateway: { logger } });
    try {
      const good = await logged.token(["user:1"]);
      const bad = await rawToken(
        { scopes: ["user:1"] },
        { secret: "another-secret-that-is-long-enough-000" },
      );
      const socket = logged.client(bad);
      await new Promise((resolve) => {
        socket.once("connect_error", resolve);
        socket.connect();
      });
      await (await logged.connect(good)).disconnect();
      await fetch(`${logged.url}/api/jobs?scope=user:1`, {
        headers: { authorization: `Bearer ${bad}` },
      });
      await waitFor(() => lines.some((l) => l.includes("connection refused")));
      const all = lines.join("\n");
      for (const token of [good, bad]) {
        expect(all).not.toContain(token);
        expect(all).not.toContain(token.split(".")[2] as string);
      }
    } finally {
      await logged.stop();
    }
  });
});
