/**
 * Fault 7: a worker process SIGKILLed mid-job. After the stall window (three of
 * its heartbeats without a write) its job reads as `stalled` everywhere: the
 * queries, /api/jobs, a new subscribe's snapshot, and the browser SDK that the
 * dashboard renders from (also for a client that was watching all along). At
 * retention it is pruned: gone from Redis, from the queries and from every
 * client, including those that were watching when it died.
 */
import { createProgressClient, type ProgressClient } from "../../client";
import { RedisProgress } from "../../shared";
import type { JobMap } from "../../shared/job";
import { TestGateway } from "../helpers/gateway";
import { ScopeView, killChildren, report, startWorker } from "../helpers/fault";
import { waitFor } from "../helpers/wait";

const HEARTBEAT = 300;
// The job reads as stalled from 3 heartbeats (0.9 s) to retention: four checks
// in a row must fall in that window, on a machine that may be loaded.
const RETENTION = 6000;

let tg: TestGateway;
let sdk: ProgressClient | undefined;

beforeAll(async () => {
  tg = await TestGateway.start();
});

afterAll(async () => {
  sdk?.close();
  killChildren();
  await tg.stop();
});

// The waits below add up to more than Jest's default 30 s when the machine is slow.
jest.setTimeout(60_000);

test("a killed worker's job turns stalled after the stall window and is pruned at retention", async () => {
  const scope = "fault:dead-worker";
  const id = "dead-worker";
  const token = await tg.token([scope]);
  const watching = await ScopeView.open(tg.connect(token), scope);
  sdk = createProgressClient({
    url: tg.url,
    token,
    stalledCheckInterval: 50,
    socketOptions: { transports: ["websocket"] },
  });
  let sdkJobs: JobMap = {};
  sdk.subscribe(scope, (jobs) => (sdkJobs = jobs));

  const worker = startWorker({
    REDIS_URL: tg.redis.url,
    SCOPE: scope,
    ID: id,
    TOTAL: 100,
    MODE: "steady",
    STEP_MS: 50,
    INTERVAL: 20,
    HEARTBEAT,
    RETENTION,
    LOG_WRITES: "1",
  });
  await waitFor(() => (watching.jobs.get(id)?.percent ?? 0) >= 30, {
    what: "the job at 30%",
  });
  await worker.kill("SIGKILL");
  const killedAt = Date.now();
  // The worker's last write is what Redis holds; the watcher may still be a
  // coalescing window behind it, so wait until it has that write too.
  const stored = await RedisProgress.find({ redis: tg.redis.url, scope, id });
  await waitFor(() => watching.jobs.get(id)?.seq === stored?.seq, {
    what: "the watcher to hold the worker's last write",
  });
  const lastWrite = watching.jobs.get(id);
  expect(lastWrite?.status).toBe("running");
  const lastWriteAt = Date.parse(lastWrite?.updated_at ?? "");

  const api = async (): Promise<JobMap> => {
    const res = await fetch(`${tg.url}/api/jobs?scope=${scope}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return ((await res.json()) as { jobs: JobMap }).jobs;
  };

  // Stalled for every reader once three heartbeats passed without a write.
  const found = await waitFor(
    async () => {
      const job = await RedisProgress.find({ redis: tg.redis.url, scope, id });
      return job?.stalled === true ? job : undefined;
    },
    { what: "the query to mark the job stalled" },
  );
  const stalledSeenAfterMs = Date.now() - lastWriteAt;
  expect(stalledSeenAfterMs).toBeGreaterThanOrEqual(3 * HEARTBEAT);
  expect(found).toMatchObject({ status: "running", percent: lastWrite?.percent });
  expect((await api())[id]).toMatchObject({ stalled: true, status: "running" });
  const joiner = await ScopeView.open(tg.connect(token), scope);
  expect(joiner.jobs.get(id)).toMatchObject({ stalled: true });
  await waitFor(() => sdkJobs[id]?.stalled === true, {
    what: "the SDK (the dashboard's data) to mark the job stalled",
  });

  // Pruned at retention: from every client that watches, the readers, and Redis.
  await waitFor(() => !watching.jobs.has(id) && !joiner.jobs.has(id) && !(id in sdkJobs), {
    timeout: RETENTION + 10_000,
    interval: 10,
    what: "every watching client to drop the pruned job",
  });
  const prunedSeenAfterMs = Date.now() - lastWriteAt;
  expect(prunedSeenAfterMs).toBeGreaterThanOrEqual(RETENTION);
  expect(await RedisProgress.jobs({ redis: tg.redis.url, scope })).toEqual({});
  expect(await api()).toEqual({});
  // Redis itself lets go of the key within its housekeeping slack (10% of retention, twice).
  await waitFor(async () => (await tg.redis.client().exists(`resque:pace:${scope}`)) === 0, {
    timeout: RETENTION + 5000,
    what: "the scope's hash to expire",
  });
  const keyGoneAfterMs = Date.now() - lastWriteAt;
  for (const view of [watching, joiner]) expect(view.violations).toEqual([]);
  report("7 worker-kill", {
    heartbeatMs: HEARTBEAT,
    retentionMs: RETENTION,
    killedAfterLastWriteMs: killedAt - lastWriteAt,
    stalledSeenAfterLastWriteMs: stalledSeenAfterMs,
    prunedOnClientsAfterLastWriteMs: prunedSeenAfterMs,
    keyGoneInRedisAfterLastWriteMs: keyGoneAfterMs,
  });
});
