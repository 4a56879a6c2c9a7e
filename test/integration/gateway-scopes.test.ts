/**
 * Subscribe checks: every invalid scope class of DESIGN.md gets
 * `invalid_scope` before any Redis command; the order of checks is syntax,
 * grants, limits; the per-socket rate limit and scope cap.
 */
import { DEFAULTS } from "../../server";
import { TestRedis } from "../helpers/redis-server";
import { TestGateway, subscribe, unsubscribe } from "../helpers/gateway";

let redis: TestRedis;
const gateways: TestGateway[] = [];

async function gatewayWith(limits: Record<string, number> = {}): Promise<TestGateway> {
  const tg = await TestGateway.start({ redis, gateway: { limits } });
  gateways.push(tg);
  return tg;
}

beforeAll(async () => {
  redis = await TestRedis.start();
});

afterAll(async () => {
  for (const tg of gateways) await tg.stop();
  await redis.stop();
});

function code(ack: Awaited<ReturnType<typeof subscribe>>): string {
  return ack.ok ? "ok" : ack.error.code;
}

/** Calls to commands that would touch a scope, since the last CONFIG RESETSTAT. */
async function scopeCommands(): Promise<string[]> {
  const info = await redis.client().info("commandstats");
  return info
    .split("\n")
    .filter((line) => /^cmdstat_(subscribe|ssubscribe|evalsha|eval|hgetall|fcall)/i.test(line));
}

const INVALID: [string, unknown][] = [
  ["a star", "user:*"],
  ["a lone star", "*"],
  ["a question mark", "user:?"],
  ["brackets", "user:[1]"],
  ["an opening bracket", "user:["],
  ["braces (hash tags)", "user:{1}"],
  ["a closing brace", "user:1}"],
  ["a space", "user:1 2"],
  ["a leading space", " user:1"],
  ["a newline", "user:1\n"],
  ["a tab", "user\t1"],
  ["a NUL", "user:\u0000"],
  ["DEL", "user:\u007f"],
  ["non-ASCII", "usér:1"],
  ["an emoji", "user:🙂"],
  ["a slash", "user/1"],
  ["the empty string", ""],
  ["an empty part", "user::1"],
  ["a trailing colon", "user:"],
  ["a leading colon", ":1"],
  ["only a colon", ":"],
  ["nine parts", "a:b:c:d:e:f:g:h:i"],
  ["a part of 129 characters", `user:${"x".repeat(129)}`],
  ["257 characters in all", ["a", "b", "c"].map(() => "x".repeat(85)).join(":") + ":xx"],
  ["a number", 42],
  ["null", null],
  ["an array of parts", ["user", "1"]],
  ["an object", { user: 1 }],
  ["a boolean", true],
];

test.each(INVALID)(
  "a scope with %s is invalid_scope, before any Redis command",
  async (_name, scope) => {
    const tg = gateways[0] ?? (await gatewayWith());
    // Granted everything a token may grant, so only the syntax can refuse.
    const socket = await tg.connect(await tg.token(["user:*", "user", "a:*"]));
    await redis.client().config("RESETSTAT");
    const ack = await subscribe(socket, scope);
    expect(code(ack)).toBe("invalid_scope");
    expect(ack.ok ? "" : ack.error.message).not.toBe("");
    expect(await scopeCommands()).toEqual([]);
    socket.disconnect();
  },
);

test("requests that are not `{ scope: string }` are invalid_scope", async () => {
  const tg = gateways[0] ?? (await gatewayWith());
  const socket = await tg.connect(await tg.token(["user:*"]));
  const emit = (payload: unknown) =>
    socket.timeout(5000).emitWithAck("subscribe", payload as { scope: string });
  for (const payload of ["user:1", null, 7, [], { scopes: "user:1" }]) {
    expect(await emit(payload)).toMatchObject({ ok: false, error: { code: "invalid_scope" } });
  }
  socket.disconnect();
});

test("the order of checks: invalid_scope, then forbidden, then rate_limited", async () => {
  const tg = await gatewayWith({ subscribeBurst: 2, subscribeRate: 0.001 });
  const socket = await tg.connect(await tg.token(["ord:*"]));
  expect(code(await subscribe(socket, "ord:1"))).toBe("ok");
  expect(code(await subscribe(socket, "ord:2"))).toBe("ok");
  // The bucket is empty now: only what passes syntax and grants meets the limit.
  await redis.client().config("RESETSTAT");
  expect(code(await subscribe(socket, "ord:*"))).toBe("invalid_scope");
  expect(code(await subscribe(socket, "other:1"))).toBe("forbidden");
  expect(code(await subscribe(socket, "ord:3"))).toBe("rate_limited");
  expect(await scopeCommands()).toEqual([]);
});

test("the default limits allow a burst of 20 subscribes and at least 50 scopes", async () => {
  expect(DEFAULTS.limits.subscribeBurst).toBeGreaterThanOrEqual(20);
  expect(DEFAULTS.limits.maxScopesPerSocket).toBeGreaterThanOrEqual(50);
  const tg = await gatewayWith();
  const socket = await tg.connect(await tg.token(["burst:*"]));
  const acks = await Promise.all(
    Array.from({ length: 20 }, (_, i) => subscribe(socket, `burst:${i}`)),
  );
  expect(acks.map(code)).toEqual(Array(20).fill("ok"));

  const wide = await gatewayWith({ subscribeBurst: 1000 });
  const many = await wide.connect(await wide.token(["wide:*"]));
  const all = await Promise.all(Array.from({ length: 50 }, (_, i) => subscribe(many, `wide:${i}`)));
  expect(all.map(code)).toEqual(Array(50).fill("ok"));
});

test("the cap on scopes per socket", async () => {
  const tg = await gatewayWith({ subscribeBurst: 100, maxScopesPerSocket: 3 });
  const socket = await tg.connect(await tg.token(["cap:*"]));
  for (const scope of ["cap:1", "cap:2", "cap:3"])
    expect(code(await subscribe(socket, scope))).toBe("ok");
  expect(code(await subscribe(socket, "cap:4"))).toBe("rate_limited");
  // Watching one again is not a new scope.
  expect(code(await subscribe(socket, "cap:1"))).toBe("ok");
  expect(await unsubscribe(socket, "cap:1")).toEqual({ ok: true });
  expect(code(await subscribe(socket, "cap:4"))).toBe("ok");
  // Another socket has its own allowance.
  const other = await tg.connect(await tg.token(["cap:*"]));
  expect(code(await subscribe(other, "cap:5"))).toBe("ok");
});

test.each([["websocket"], ["polling"]])(
  "the cap counts subscribes queued behind an unsubscribe of their scope (%s)",
  async (transport) => {
    const tg = await gatewayWith({ subscribeBurst: 100, maxScopesPerSocket: 3 });
    const socket = await tg.connect(await tg.token(["queue:*"]), { transports: [transport] });
    // Sent in one go (over polling, in one POST): each subscribe waits for the
    // unsubscribe before it, so none has joined when the next one is checked.
    const acks = await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        void unsubscribe(socket, `queue:${i}`);
        return subscribe(socket, `queue:${i}`);
      }),
    );
    const codes = acks.map(code);
    expect(codes.filter((c) => c === "ok")).toHaveLength(3);
    expect(codes.filter((c) => c !== "ok")).toEqual(Array(7).fill("rate_limited"));
    // What was accepted is what is watched: full, until one is let go.
    expect(code(await subscribe(socket, "queue:new"))).toBe("rate_limited");
    const watched = codes.indexOf("ok");
    expect(await unsubscribe(socket, `queue:${watched}`)).toEqual({ ok: true });
    expect(code(await subscribe(socket, "queue:new"))).toBe("ok");
  },
);

test("unsubscribe validates the scope too", async () => {
  const tg = gateways[0] ?? (await gatewayWith());
  const socket = await tg.connect(await tg.token(["user:*"]));
  expect(await unsubscribe(socket, "user:*")).toMatchObject({
    ok: false,
    error: { code: "invalid_scope" },
  });
  expect(await unsubscribe(socket, "user:never-joined")).toEqual({ ok: true });
});
