/**
 * Abuse 11: malformed scopes and job ids through every entry point: the
 * tracker, the queries (jobs, find, remove, requestCancel), the socket's
 * subscribe / unsubscribe / cancel, /api/jobs and POST /api/jobs/cancel, and the
 * browser SDK. Each is rejected with a typed error before any Redis command:
 * MONITOR records nothing (the gateway's health check is off here, so that the
 * log holds only what these inputs cause).
 *
 * `__proto__` is an ordinary scope part and job id by the grammar (DESIGN.md:
 * letters, digits and `_ . @ -`), so it is tested as prototype-pollution
 * payloads: `__proto__` inside otherwise malformed scopes, as a key of the
 * request object, and as a valid-but-not-granted scope, which is `forbidden`,
 * leaves Object.prototype alone and sends nothing either.
 */
import { createProgressClient } from "../../client";
import { DEFAULTS } from "../../server";
import { InvalidArgumentError, InvalidScopeError, RedisProgress } from "../../shared";
import { TestGateway, subscribe } from "../helpers/gateway";
import { monitorCommands, type CommandLog } from "../helpers/monitor";

let tg: TestGateway;
let log: CommandLog;

beforeAll(async () => {
  tg = await TestGateway.start({
    gateway: { healthCheckInterval: 0, limits: { subscribeBurst: 10_000, subscribeRate: 10_000 } },
  });
  log = await monitorCommands(tg.redis);
});

afterAll(async () => {
  await log.stop();
  await tg.stop();
});

const BAD_SCOPES: [string, unknown][] = [
  ["a star", "user:*"],
  ["a character class", "user:[0-9]"],
  ["a hash tag", "user:{1}"],
  ["a question mark", "user:?"],
  ["an empty part", "user::1"],
  ["a leading colon", ":user"],
  ["a trailing colon", "user:"],
  ["the empty string", ""],
  ["10 KB", "u".repeat(10_240)],
  ["10 KB of parts", Array.from({ length: 2048 }, () => "user").join(":")],
  ["full-width digits", "user:１２３"],
  ["Arabic-Indic digits", "user:٣٤٢١"],
  ["a NUL", "user:\u0000"],
  ["a NUL inside", "user:34\u000021"],
  ["a newline", "user:1\r\nDEL x"],
  ["a space", "user:1 2"],
  ["a slash path with __proto__", "__proto__:x/y"],
  ["__proto__ with a star", "__proto__:*"],
  ["a number with a fraction", 3421.5],
  ["NaN", Number.NaN],
  ["null", null],
  ["a boolean", true],
  ["an object", { user: 3421 }],
  ["an array of objects", [{ user: 3421 }]],
  ["an array with __proto__ and an object", ["__proto__", {}]],
  ["nested arrays", [["user", 3421]]],
  ["an empty array", []],
  ["nine parts", ["a", "b", "c", "d", "e", "f", "g", "h", "i"]],
];

/** Scopes whose subscribe packet is above maxHttpBufferSize: the socket alone sees them. */
const OVERSIZED_SCOPES: [string, string][] = [
  ["20 KB", "u".repeat(20_480)],
  ["20 KB of parts", Array.from({ length: 4096 }, () => "user").join(":")],
];

const BAD_IDS: [string, unknown][] = [
  ["a star", "job*"],
  ["a space", "a b"],
  ["129 characters", "x".repeat(129)],
  ["10 KB", "x".repeat(10_240)],
  ["the empty string", ""],
  ["full-width digits", "１２３"],
  ["a NUL", "a\u0000"],
  ["a hash tag", "{job}"],
  ["a number", 7],
  ["null", null],
  ["an object", { id: "x" }],
  ["an array", ["x"]],
];

/** The socket `subscribe` payloads that are not `{ scope: string }` at all. */
const BAD_PAYLOADS: [string, unknown][] = [
  ["a bare string", "user:1"],
  ["null", null],
  ["an array of objects", [{ scope: "user:1" }]],
  ["scope under __proto__", JSON.parse('{"__proto__": {"scope": "user:1"}}')],
  ["scope as an array", { scope: ["user", "1"] }],
  ["scope as an object", { scope: { toString: "user:1" } }],
];

async function nothingSent(what: string): Promise<void> {
  await log.sync();
  expect([what, log.commands]).toEqual([what, []]);
}

beforeEach(async () => {
  await log.sync();
  log.commands.length = 0;
});

test("the tracker and the queries refuse them synchronously or with a typed rejection", async () => {
  const redis = tg.redis.url; // a URL: not even a connection may be opened
  for (const [name, scope] of BAD_SCOPES) {
    expect(() => new RedisProgress({ redis, scope: scope as string, total: 1 })).toThrow(
      InvalidScopeError,
    );
    for (const query of [
      () => RedisProgress.jobs({ redis, scope: scope as string }),
      () => RedisProgress.find({ redis, scope: scope as string, id: "job" }),
      () => RedisProgress.remove({ redis, scope: scope as string }),
      () => RedisProgress.requestCancel({ redis, scope: scope as string, id: "job" }),
    ]) {
      await expect(query()).rejects.toBeInstanceOf(InvalidScopeError);
    }
    await nothingSent(`tracker and queries, scope with ${name}`);
  }
  for (const [name, id] of BAD_IDS) {
    expect(() => new RedisProgress({ redis, scope: "user:1", id: id as string, total: 1 })).toThrow(
      InvalidArgumentError,
    );
    for (const query of [
      () => RedisProgress.find({ redis, scope: "user:1", id: id as string }),
      () => RedisProgress.remove({ redis, scope: "user:1", id: id as string }),
      () => RedisProgress.requestCancel({ redis, scope: "user:1", id: id as string }),
    ]) {
      await expect(query()).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await nothingSent(`tracker and queries, id with ${name}`);
  }
});

test("the socket refuses them: invalid_scope / invalid_argument, nothing sent", async () => {
  // Grants everything a token can, so that only the syntax refuses.
  const token = await tg.token(["user:*", "u:*", "a:*", "__proto__:*"], { cancel: ["user:*"] });
  let socket = await tg.connect(token);
  let cut = 0;
  for (const [name, scope] of [...BAD_SCOPES, ...OVERSIZED_SCOPES]) {
    if (JSON.stringify({ scope }).length > DEFAULTS.maxHttpBufferSize) {
      // Above maxHttpBufferSize the gateway does not even parse it: it drops the socket (case 13).
      const gone = new Promise((resolve) => socket.once("disconnect", resolve));
      socket.emit("subscribe", { scope: scope as string }, () => {});
      expect([name, await gone]).toEqual([name, "transport close"]);
      cut += 1;
      await nothingSent(`socket, oversized scope with ${name}`);
      socket = await tg.connect(token);
      continue;
    }
    const acks = [
      await subscribe(socket, scope),
      await socket.timeout(5000).emitWithAck("unsubscribe", { scope: scope as string }),
      await socket.timeout(5000).emitWithAck("cancel", { scope: scope as string, id: "job" }),
    ];
    for (const ack of acks) {
      expect([name, ack]).toEqual([name, expect.objectContaining({ ok: false })]);
      expect([name, (ack as { error: { code: string } }).error.code]).toEqual([
        name,
        "invalid_scope",
      ]);
    }
    await nothingSent(`socket, scope with ${name}`);
  }
  expect(cut).toBe(OVERSIZED_SCOPES.length);
  for (const [name, id] of BAD_IDS) {
    if (JSON.stringify({ id }).length > DEFAULTS.maxHttpBufferSize) continue; // as above
    const ack = await socket
      .timeout(5000)
      .emitWithAck("cancel", { scope: "user:1", id: id as string });
    expect([name, ack]).toEqual([
      name,
      { ok: false, error: { code: "invalid_argument", message: expect.any(String) } },
    ]);
    await nothingSent(`socket cancel, id with ${name}`);
  }
  for (const [name, payload] of BAD_PAYLOADS) {
    const ack = await socket.timeout(5000).emitWithAck("subscribe", payload as { scope: string });
    expect([name, ack]).toEqual([name, expect.objectContaining({ ok: false })]);
    await nothingSent(`socket, payload ${name}`);
  }
  expect(({} as Record<string, unknown>).scope).toBeUndefined();
  expect(socket.connected).toBe(true);
});

test("__proto__ as a valid scope or id is an ordinary name: not granted means forbidden, nothing sent", async () => {
  const socket = await tg.connect(await tg.token(["user:1"]));
  for (const scope of ["__proto__", "constructor", "user:__proto__", "prototype:toString"]) {
    expect(await subscribe(socket, scope)).toMatchObject({
      ok: false,
      error: { code: "forbidden" },
    });
  }
  const res = await fetch(`${tg.url}/api/jobs?scope=__proto__`, {
    headers: { authorization: `Bearer ${await tg.token(["user:1"])}` },
  });
  expect(res.status).toBe(403);
  await nothingSent("__proto__ scopes, not granted");
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, "jobs")).toBe(false);

  // Granted, it is just a name: a job `__proto__` in scope `__proto__` is stored and listed.
  const pace = await RedisProgress.start({
    redis: tg.redis.url,
    scope: "__proto__",
    id: "__proto__",
    total: 2,
  });
  await pace.finish();
  const listed = await RedisProgress.jobs({ redis: tg.redis.url, scope: "__proto__" });
  expect(Object.keys(listed)).toEqual(["__proto__"]);
  expect(listed["__proto__"]).toMatchObject({ id: "__proto__", status: "completed" });
  const granted = await tg.connect(await tg.token(["__proto__"]));
  const ack = await subscribe(granted, "__proto__");
  expect(ack.ok && Object.keys(ack.jobs)).toEqual(["__proto__"]);
  expect(({} as Record<string, unknown>).status).toBeUndefined();
  log.commands.length = 0; // these sent commands on purpose
});

test("/api/jobs and POST /api/jobs/cancel answer 400, nothing sent", async () => {
  const token = await tg.token(["user:*", "u:*"], { cancel: ["user:*"] });
  const headers = { authorization: `Bearer ${token}` };
  for (const [name, scope] of BAD_SCOPES) {
    if (typeof scope !== "string") continue;
    const query = `scope=${encodeURIComponent(scope)}`;
    const get = await fetch(`${tg.url}/api/jobs?${query}`, { headers });
    expect([name, get.status]).toEqual([name, 400]);
    const post = await fetch(`${tg.url}/api/jobs/cancel?${query}&id=job`, {
      method: "POST",
      headers,
    });
    expect([name, post.status]).toEqual([name, 400]);
    await nothingSent(`HTTP, scope with ${name}`);
  }
  // Repeated or array-shaped query parameters are not a scope either.
  for (const query of ["scope=user:1&scope=user:2", "scope[]=user:1", "scope[a]=user:1", ""]) {
    const get = await fetch(`${tg.url}/api/jobs?${query}`, { headers });
    expect([query, get.status]).toEqual([query, 400]);
  }
  for (const [name, id] of BAD_IDS) {
    if (typeof id !== "string") continue;
    const post = await fetch(
      `${tg.url}/api/jobs/cancel?scope=user:1&id=${encodeURIComponent(id)}`,
      { method: "POST", headers },
    );
    expect([name, post.status]).toEqual([name, 400]);
    await nothingSent(`HTTP cancel, id with ${name}`);
  }
  await nothingSent("HTTP");
});

test("the browser SDK throws InvalidScopeError before sending anything", async () => {
  const client = createProgressClient({
    url: tg.url,
    token: await tg.token(["user:*"]),
    socketOptions: { transports: ["websocket"] },
  });
  try {
    for (const [, scope] of BAD_SCOPES) {
      expect(() => client.subscribe(scope as string, () => {})).toThrow(InvalidScopeError);
    }
    await nothingSent("SDK");
  } finally {
    client.close();
  }
});
