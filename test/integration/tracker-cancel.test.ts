/**
 * Cancel, on the tracker's side, against a real redis-server: the cancel
 * script's answers, the request reaching the worker with its next write
 * (signal, "cancel" event, cancelRequested), cancel() and forEach ending the
 * job `canceled`, and the worst-case delays (one interval, one heartbeat).
 */
import type { Redis } from "ioredis";
import {
  ConflictError,
  InvalidArgumentError,
  InvalidScopeError,
  NotFoundError,
  RedisProgress,
  type JobValue,
} from "../../shared";
import { monitorCommands, type CommandLog } from "../helpers/monitor";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

let redis: TestRedis;
let client: Redis;
let subscriber: Redis;
let log: CommandLog;
const messages: { jobs: Record<string, JobValue | null> }[] = [];

beforeAll(async () => {
  redis = await TestRedis.start();
  client = redis.client();
  subscriber = redis.client();
  subscriber.on("message", (_channel: string, body: string) => messages.push(JSON.parse(body)));
  await subscriber.subscribe("resque:pace:c");
  log = await monitorCommands(redis);
});
afterAll(async () => {
  await log.stop();
  await redis.stop();
});
beforeEach(() => {
  messages.length = 0;
});

async function stored(id: string, scope = "c"): Promise<JobValue> {
  return JSON.parse((await client.hget(`resque:pace:${scope}`, id)) as string) as JobValue;
}

test("a request is stored on the running job (seq bumped, published), updated_at untouched; asking again changes nothing", async () => {
  const pace = await RedisProgress.start({ redis: client, scope: "c", total: 10, name: "Import" });
  pace.tick(3);
  await pace.flush();
  const before = await stored(pace.id);
  const result = await RedisProgress.requestCancel({ redis: client, scope: "c", id: pace.id });
  expect(result.seq).toBe(before.seq + 1);
  const after = await stored(pace.id);
  expect(after).toEqual({
    ...before,
    seq: before.seq + 1,
    cancel_requested_at: result.cancel_requested_at,
  });
  expect(Date.parse(result.cancel_requested_at)).toBeGreaterThanOrEqual(
    Date.parse(before.updated_at),
  );
  await waitFor(() => messages.some((m) => m.jobs[pace.id]?.cancel_requested_at !== undefined), {
    what: "the request to be published",
  });

  const published = messages.length;
  const again = await RedisProgress.requestCancel({ redis: client, scope: "c", id: pace.id });
  expect(again).toEqual(result);
  expect(await stored(pace.id)).toEqual(after);
  await client.ping(); // a publish would have reached the subscriber before this reply
  expect(messages.length).toBe(published);
  await pace.cancel();
});

test("the next write carries the request: signal aborts, one cancel event, cancelRequested; cancel() ends it canceled", async () => {
  const pace = await RedisProgress.start({ redis: client, scope: "c", total: 100, interval: 10 });
  const events: Date[] = [];
  pace.on("cancel", (info) => events.push(info.requestedAt));
  expect(pace.signal.aborted).toBe(false);
  expect(pace.cancelRequested).toBe(false);
  const { cancel_requested_at } = await RedisProgress.requestCancel({
    redis: client,
    scope: "c",
    id: pace.id,
  });
  // Not known before a write.
  expect(pace.cancelRequested).toBe(false);
  let abortEvents = 0;
  pace.signal.addEventListener("abort", () => (abortEvents += 1));
  pace.tick(5);
  await pace.flush();
  expect(pace.signal.aborted).toBe(true);
  expect(pace.cancelRequested).toBe(true);
  expect(events).toEqual([new Date(cancel_requested_at)]);
  pace.tick(5);
  await pace.flush();
  expect(events).toHaveLength(1); // once
  expect(abortEvents).toBe(1);

  await pace.cancel();
  expect(pace.status).toBe("canceled");
  const value = await stored(pace.id);
  expect(value).toMatchObject({ status: "canceled", count: 10, cancel_requested_at });
  expect(value.finished_at).toEqual(value.updated_at);
  expect(value.estimated_finished_at).toEqual(value.finished_at);
  // Ended is final: later finish() or fail() change nothing.
  await pace.finish();
  expect((await stored(pace.id)).status).toBe("canceled");
});

test("cancel() works without a request too (the worker decides to stop)", async () => {
  const pace = await RedisProgress.start({ redis: client, scope: "c", total: 5 });
  pace.tick(2);
  await pace.cancel();
  const value = await stored(pace.id);
  expect(value).toMatchObject({ status: "canceled", count: 2, percent: 40 });
  expect(value.cancel_requested_at).toBeUndefined();
});

test("unknown jobs are not_found, ended jobs a conflict", async () => {
  await expect(
    RedisProgress.requestCancel({ redis: client, scope: "c", id: "nope" }),
  ).rejects.toMatchObject({ name: "NotFoundError", code: "not_found" });
  await expect(
    RedisProgress.requestCancel({ redis: client, scope: "other", id: "nope" }),
  ).rejects.toBeInstanceOf(NotFoundError);
  for (const end of ["finish", "fail", "cancel"] as const) {
    const pace = await RedisProgress.start({ redis: client, scope: "c", total: 5 });
    await pace[end]();
    const error = await RedisProgress.requestCancel({
      redis: client,
      scope: "c",
      id: pace.id,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: "conflict", status: pace.status });
  }
});

test("bad scopes and ids are refused before any Redis command", async () => {
  await log.sync();
  log.commands.length = 0; // what the other tests sent
  {
    await expect(
      RedisProgress.requestCancel({ redis: client, scope: "a b", id: "x" }),
    ).rejects.toBeInstanceOf(InvalidScopeError);
    await expect(
      RedisProgress.requestCancel({ redis: client, scope: "c", id: "x y" }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      RedisProgress.requestCancel({
        redis: client,
        scope: "c",
        id: undefined as unknown as string,
      }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await log.sync();
    expect(log.commands).toEqual([]);
  }
});

test("forEach stops before the next item once the signal aborts and ends the job canceled", async () => {
  const items = Array.from({ length: 1000 }, (_, i) => i);
  const seen: number[] = [];
  let id = "";
  const pace = await RedisProgress.forEach(
    items,
    { redis: client, scope: "c", interval: 1, name: "Loop" },
    async (item, _index, p) => {
      id = p.id;
      seen.push(item);
      if (item === 10) await RedisProgress.requestCancel({ redis: client, scope: "c", id });
      await new Promise((resolve) => setTimeout(resolve, 2));
    },
  );
  expect(pace.status).toBe("canceled");
  expect(seen.length).toBeLessThan(items.length);
  const value = await stored(id);
  expect(value).toMatchObject({ status: "canceled", count: seen.length });
  console.log(
    `forEach: cancel requested during item 10, loop stopped after item ${seen.length - 1} (interval 1 ms)`,
  );
});

test("worst case while nothing moves: the request arrives with the next heartbeat", async () => {
  const heartbeat = 300;
  const pace = await RedisProgress.start({
    redis: client,
    scope: "c",
    total: 100,
    heartbeat,
    interval: 10_000,
  });
  // Listening before the request: a heartbeat may bring it back before
  // requestCancel's own reply is handled.
  const heard = new Promise<{ requestedAt: Date }>((resolve) => pace.on("cancel", resolve));
  const { cancel_requested_at } = await RedisProgress.requestCancel({
    redis: client,
    scope: "c",
    id: pace.id,
  });
  const info = await heard;
  const delay = Date.now() - Date.parse(cancel_requested_at);
  expect(info.requestedAt.toISOString()).toBe(cancel_requested_at);
  console.log(
    `no progress, heartbeat ${heartbeat} ms: cancel reached the worker after ${delay} ms`,
  );
  await pace.cancel();
});

test("a cancel of the parent reaches its running children with their next write", async () => {
  const parent = await RedisProgress.start({ redis: client, scope: "c", total: 2, interval: 1 });
  const a = parent.child({ total: 10, name: "a" });
  const b = parent.child({ total: 10, name: "b" });
  await Promise.all([a.ready, b.ready]);
  await b.finish();
  const { cancel_requested_at } = await RedisProgress.requestCancel({
    redis: client,
    scope: "c",
    id: parent.id,
  });
  a.tick();
  await a.flush();
  expect(a.signal.aborted).toBe(true);
  expect((await stored(a.id)).cancel_requested_at).toBe(cancel_requested_at);
  expect((await stored(b.id)).cancel_requested_at).toBeUndefined(); // it had ended
  await a.cancel();
  await parent.flush();
  expect(parent.cancelRequested).toBe(true);
  await parent.cancel();
  const value = await stored(parent.id);
  expect(value.status).toBe("canceled");
  expect(value.children).toMatchObject({ total: 2, completed: 1, canceled: 1 });
});

test("a cancel of the parent still reaches a child that writes only after the parent ended canceled", async () => {
  const parent = await RedisProgress.start({ redis: client, scope: "c", total: 1, interval: 1 });
  const idle = parent.child({ total: 10, name: "idle" });
  await idle.ready;
  await RedisProgress.requestCancel({ redis: client, scope: "c", id: parent.id });
  // The parent's tracker sees the request and ends its job, as a worker does.
  await parent.flush();
  expect(parent.signal.aborted).toBe(true);
  await parent.cancel();
  expect((await stored(parent.id)).status).toBe("canceled");
  // The child wrote nothing meanwhile; its next write (a heartbeat, an item) brings it.
  idle.tick();
  await idle.flush();
  expect(idle.signal.aborted).toBe(true);
  await idle.cancel();
  expect((await stored(idle.id)).status).toBe("canceled");
});

test("forEach: what fn throws once the signal aborted (it passed the signal on) ends the job canceled, not failed", async () => {
  let id = "";
  const pace = await RedisProgress.forEach(
    [1, 2, 3],
    { redis: client, scope: "c", interval: 1 },
    async (item, _index, p) => {
      id = p.id;
      if (item !== 2) return;
      await RedisProgress.requestCancel({ redis: client, scope: "c", id });
      // A long item that watches the signal, as fetch(url, { signal }) does.
      await new Promise((_resolve, reject) => {
        p.signal.addEventListener("abort", () => reject(p.signal.reason as Error), { once: true });
        void p.flush();
      });
    },
  );
  expect(pace.status).toBe("canceled");
  expect((await stored(id)).status).toBe("canceled");
});
