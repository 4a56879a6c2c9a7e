/**
 * Abuse 9: bad tokens. Missing, malformed, `alg: none`, HS256 signed with
 * another secret, another HMAC algorithm, expired, `exp` missing, `scopes` of
 * the wrong type: each is refused with `connect_error` "unauthorized" (and 401
 * on /api/jobs), and Redis sees nothing: PUBSUB CHANNELS shows no channel and
 * no SUBSCRIBE or script ran.
 */
import { SignJWT } from "jose";
import { TEST_SECRET, TestGateway, rawToken } from "../helpers/gateway";
import { commandCounts } from "../helpers/fault";

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start({ gateway: { healthCheckInterval: 0 } });
});

afterAll(async () => {
  await tg.stop();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

/** Every bad token, built fresh (expiry relative to now). */
async function badTokens(): Promise<[string, unknown][]> {
  const claims = { scopes: ["user:1"] };
  return [
    ["no token at all", undefined],
    ["an empty string", ""],
    ["a number", 42],
    ["an object", { token: "x" }],
    ["not a JWT", "hello"],
    ["two parts", "a.b"],
    ["three parts of garbage", "a.b.c"],
    // Within maxHttpBufferSize (16 KB): a bigger CONNECT packet closes the transport (case 13).
    ["3 KB of base64", `${"A".repeat(1500)}.${"B".repeat(1500)}.C`],
    [
      "alg none, unsigned",
      `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...claims, exp: now() + 600 })}.`,
    ],
    [
      "alg none with a signature",
      `${b64({ alg: "none" })}.${b64({ ...claims, exp: now() + 600 })}.c2ln`,
    ],
    [
      "HS256 signed with another secret",
      await rawToken(claims, { secret: `${TEST_SECRET}-other` }),
    ],
    ["HS512 with the right secret", await rawToken(claims, { alg: "HS512" })],
    ["HS384 with the right secret", await rawToken(claims, { alg: "HS384" })],
    ["expired a minute ago", await rawToken(claims, { exp: now() - 60 })],
    ["exp missing", await rawToken(claims, { exp: null })],
    ["exp as a string", await rawToken({ ...claims, exp: String(now() + 600) }, { exp: null })],
    [
      "nbf in an hour",
      await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: "HS256" })
        .setExpirationTime(now() + 7200)
        .setNotBefore(now() + 3600)
        .sign(new TextEncoder().encode(TEST_SECRET)),
    ],
    ["scopes missing", await rawToken({})],
    ["scopes a string", await rawToken({ scopes: "user:1" })],
    ["scopes a number", await rawToken({ scopes: 1 })],
    ["scopes an object", await rawToken({ scopes: { "user:1": true } })],
    ["scopes of numbers", await rawToken({ scopes: [1, 2] })],
    ["scopes of objects", await rawToken({ scopes: [{ scope: "user:1" }] })],
    ["a wildcard grant", await rawToken({ scopes: ["*"] })],
    ["a pattern grant", await rawToken({ scopes: ["user:[0-9]"] })],
    ["300 grants", await rawToken({ scopes: Array.from({ length: 300 }, (_, i) => `u:${i}`) })],
    ["a tampered payload", await tampered()],
  ];
}

/** A valid token whose payload was swapped for one granting more. */
async function tampered(): Promise<string> {
  const [header, , signature] = (await tg.token(["user:1"])).split(".");
  return `${header}.${b64({ scopes: ["user:*"], exp: now() + 600 })}.${signature}`;
}

test("each bad token is refused at the handshake and on /api/jobs, and Redis sees nothing", async () => {
  const admin = tg.redis.client();
  await admin.config("RESETSTAT");
  const refused: string[] = [];
  for (const [name, token] of await badTokens()) {
    const socket = tg.client(undefined, { auth: token === undefined ? {} : { token } });
    const error = await new Promise<Error | null>((resolve) => {
      socket.once("connect", () => resolve(null));
      socket.once("connect_error", resolve);
      socket.connect();
    });
    socket.disconnect();
    expect([name, error?.message]).toEqual([name, "unauthorized"]);
    const res = await fetch(`${tg.url}/api/jobs?scope=user:1`, {
      headers: typeof token === "string" ? { authorization: `Bearer ${token}` } : {},
    });
    expect([name, res.status]).toEqual([name, 401]);
    refused.push(name);
  }
  expect(refused.length).toBeGreaterThanOrEqual(25);
  expect(await admin.call("PUBSUB", "CHANNELS")).toEqual([]);
  const counts = await commandCounts(admin);
  for (const command of ["subscribe", "ssubscribe", "evalsha", "eval", "hgetall"]) {
    expect([command, counts[command] ?? 0]).toEqual([command, 0]);
  }

  // The control: a good token connects and its subscribe reaches Redis.
  const good = await tg.connect(await tg.token(["user:1"]));
  expect(await good.timeout(5000).emitWithAck("subscribe", { scope: "user:1" })).toMatchObject({
    ok: true,
  });
  expect(await admin.call("PUBSUB", "CHANNELS")).toEqual(["resque:pace:user:1"]);
});
