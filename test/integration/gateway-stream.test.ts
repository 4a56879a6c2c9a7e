/**
 * Streaming through the gateway: snapshot in the subscribe ack, live updates,
 * the final 100% with finished_at, isolation between scopes, garbage values
 * and stalled marking.
 */
import type { JobValue, ProgressMessage } from "../../shared/job";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { JobStore } from "../../shared/store";
import { TestGateway, subscribe, waitFor, type ClientSocket } from "../helpers/gateway";

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start();
});

afterAll(async () => {
  await tg.stop();
});

/** Collects a socket's progress/snapshot events into a store, per scope. */
function track(socket: ClientSocket) {
  const stores = new Map<string, JobStore>();
  const events: { type: "progress" | "snapshot"; message: ProgressMessage }[] = [];
  const storeOf = (scope: string) => {
    let store = stores.get(scope);
    if (store === undefined) stores.set(scope, (store = new JobStore()));
    return store;
  };
  socket.on("progress", (message) => {
    events.push({ type: "progress", message });
    storeOf(message.scope).apply(message.jobs);
  });
  socket.on("snapshot", (message) => {
    events.push({ type: "snapshot", message });
    storeOf(message.scope).replace(message.jobs as Record<string, JobValue>);
  });
  return { stores, events, storeOf };
}

test("snapshot in the ack, then live updates, then the final 100% with finished_at", async () => {
  const before = await RedisProgress.start({
    redis: tg.redis.url,
    scope: "user:1",
    total: 10,
    name: "before",
    interval: 20,
  });
  before.tick(3);
  await before.flush();

  const socket = await tg.connect(await tg.token(["user:1"]));
  const { storeOf } = track(socket);
  const ack = await subscribe(socket, "user:1");
  expect(ack.ok).toBe(true);
  if (!ack.ok) return;
  expect(ack.scope).toBe("user:1");
  expect(ack.jobs[before.id]).toMatchObject({ id: before.id, percent: 30, count: 3, total: 10 });
  storeOf("user:1").replace(ack.jobs);

  const live = await RedisProgress.start({
    redis: tg.redis.url,
    scope: "user:1",
    total: 4,
    interval: 20,
  });
  await waitFor(() => storeOf("user:1").get(live.id), { what: "the new job's 0% marker" });
  for (let i = 0; i < 4; i++) {
    live.tick();
    await live.flush();
  }
  await live.finish();
  const final = await waitFor(
    () => {
      const job = storeOf("user:1").get(live.id);
      return job?.status === "completed" ? job : undefined;
    },
    { what: "the completed job" },
  );
  expect(final.percent).toBe(100);
  expect(final.finished_at).not.toBeNull();
  expect(Date.parse(final.finished_at as string)).not.toBeNaN();
  await before.finish();
  await waitFor(() => storeOf("user:1").get(before.id)?.status === "completed");
});

test("two scopes do not leak into each other", async () => {
  const a = await tg.connect(await tg.token(["team:a"]));
  const b = await tg.connect(await tg.token(["team:b"]));
  const ta = track(a);
  const tb = track(b);
  expect((await subscribe(a, "team:a")).ok).toBe(true);
  expect((await subscribe(b, "team:b")).ok).toBe(true);

  const ja = await RedisProgress.start({ redis: tg.redis.url, scope: "team:a", total: 2 });
  const jb = await RedisProgress.start({ redis: tg.redis.url, scope: "team:b", total: 2 });
  await ja.finish();
  await jb.finish();
  await waitFor(() => ta.storeOf("team:a").get(ja.id)?.status === "completed");
  await waitFor(() => tb.storeOf("team:b").get(jb.id)?.status === "completed");
  expect(ta.events.every((e) => e.message.scope === "team:a")).toBe(true);
  expect(tb.events.every((e) => e.message.scope === "team:b")).toBe(true);
  expect(ta.storeOf("team:a").get(jb.id)).toBeUndefined();
  expect(tb.storeOf("team:b").get(ja.id)).toBeUndefined();
  expect(ta.stores.has("team:b")).toBe(false);
  expect(tb.stores.has("team:a")).toBe(false);
});

test("values that are not jobs are skipped, in snapshots and in messages", async () => {
  const redis = tg.redis.client();
  const hash = "resque:pace:junk:1";
  const good = await RedisProgress.start({ redis: tg.redis.url, scope: "junk:1", total: 5 });
  await redis.hset(hash, "not-json", "{{{", "wrong-shape", JSON.stringify({ percent: "x" }));
  const stored = JSON.parse((await redis.hget(hash, good.id)) as string) as JobValue;
  await redis.hset(hash, "wrong-id", JSON.stringify({ ...stored, id: "other" }));

  const socket = await tg.connect(await tg.token(["junk:*"]));
  const { storeOf } = track(socket);
  const ack = await subscribe(socket, "junk:1");
  expect(ack.ok).toBe(true);
  if (!ack.ok) return;
  expect(Object.keys(ack.jobs)).toEqual([good.id]);
  storeOf("junk:1").replace(ack.jobs);

  // Garbage published on the channel is skipped too; the gateway keeps going.
  await redis.publish(hash, "not json at all");
  await redis.publish(hash, JSON.stringify({ scope: "junk:1", jobs: [1, 2] }));
  await redis.publish(hash, JSON.stringify({ scope: "junk:1", jobs: { x: { percent: 1 } } }));
  await good.finish();
  await waitFor(() => storeOf("junk:1").get(good.id)?.status === "completed");
  expect(storeOf("junk:1").get("x")).toBeUndefined();
  const metrics = await (await fetch(`${tg.url}/metrics`)).text();
  expect(metrics).toMatch(/redis_progress_garbage_values_total\{where="snapshot"\} [1-9]/);
  expect(metrics).toMatch(/redis_progress_garbage_values_total\{where="message"\} [1-9]/);
});

test("a running job whose writer went silent is marked stalled in snapshots", async () => {
  const redis = tg.redis.client();
  const old = new Date(Date.now() - 60_000).toISOString();
  const value: JobValue = {
    id: "dead-worker",
    percent: 40,
    count: 4,
    total: 10,
    started_at: old,
    estimated_finished_at: null,
    finished_at: null,
    status: "running",
    updated_at: old,
    seq: 3,
    heartbeat: 1000,
  };
  await redis.hset("resque:pace:stall:1", "dead-worker", JSON.stringify(value));
  const socket = await tg.connect(await tg.token(["stall:1"]));
  const ack = await subscribe(socket, "stall:1");
  expect(ack.ok && ack.jobs["dead-worker"]?.stalled).toBe(true);
  const res = await fetch(`${tg.url}/api/jobs?scope=stall:1`, {
    headers: { authorization: `Bearer ${await tg.token(["stall:1"])}` },
  });
  const body = (await res.json()) as { jobs: Record<string, JobValue> };
  expect(body.jobs["dead-worker"]?.stalled).toBe(true);
  // Never stored.
  expect(
    JSON.parse((await redis.hget("resque:pace:stall:1", "dead-worker")) as string),
  ).not.toHaveProperty("stalled");
});

test("a client on the default transports (polling, then the WebSocket upgrade) streams too", async () => {
  const socket = await tg.connect(await tg.token(["poll:1"]), {
    transports: ["polling", "websocket"],
  });
  const { storeOf } = track(socket);
  expect((await subscribe(socket, "poll:1")).ok).toBe(true);
  await waitFor(() => socket.io.engine.transport.name === "websocket", { what: "the upgrade" });
  const pace = await RedisProgress.start({ redis: tg.redis.url, scope: "poll:1", total: 3 });
  await pace.finish();
  await waitFor(() => storeOf("poll:1").get(pace.id)?.status === "completed");
});

test("a scope key holding another type is served as empty, not as an error", async () => {
  const redis = tg.redis.client();
  await redis.set("resque:pace:junk:2", "a plain string");
  await redis.sadd("resque:pace:junk:3", "a set member");
  const socket = await tg.connect(await tg.token(["junk:*"]));
  const ack = await subscribe(socket, "junk:2");
  expect(ack).toEqual({ ok: true, scope: "junk:2", jobs: {}, now: expect.any(Number) });
  const res = await fetch(`${tg.url}/api/jobs?scope=junk:3`, {
    headers: { authorization: `Bearer ${await tg.token(["junk:*"])}` },
  });
  expect(await res.json()).toEqual({ scope: "junk:3", jobs: {} });
});
