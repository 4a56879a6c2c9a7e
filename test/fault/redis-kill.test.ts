/**
 * Fault 1: Redis SIGKILLed while a job is at about 40%, restarted on the same
 * port 1 s later. The worker (its own process) keeps counting and its next
 * write succeeds; the gateway resubscribes; clients get `snapshot` and then the
 * final 100% with `finished_at`; nothing crashes.
 */
import { createProgressClient, type ProgressClient } from "../../client";
import { TestGateway } from "../helpers/gateway";
import {
  ScopeView,
  killChildren,
  report,
  sameJobs,
  startWorker,
  storedJobs,
} from "../helpers/fault";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

let redis: TestRedis;
let tg: TestGateway;
let sdk: ProgressClient | undefined;

beforeAll(async () => {
  redis = await TestRedis.start();
  tg = await TestGateway.start({ redis });
});

afterAll(async () => {
  sdk?.close();
  killChildren();
  await tg.stop();
  await redis.stop();
});

test("SIGKILL at ~40%, restart 1 s later: the job ends at 100% with finished_at in Redis and every client", async () => {
  const scope = "fault:kill";
  const id = "killed-redis";
  const token = await tg.token([scope]);
  const views = await ScopeView.openMany(5, () => tg.connect(token), scope);
  sdk = createProgressClient({
    url: tg.url,
    token,
    socketOptions: { transports: ["websocket"], reconnectionDelay: 100 },
  });
  sdk.subscribe(scope, () => {});

  const worker = startWorker({
    REDIS_URL: redis.url,
    SCOPE: scope,
    ID: id,
    TOTAL: 100,
    MODE: "steady",
    STEP_MS: 60,
    INTERVAL: 20,
    WRITE_TIMEOUT: 1000,
    TIMEOUT: 30_000,
    LOG_WRITES: "1",
  });
  await worker.waitForEvent((e) => e.event === "ready", "the worker's 0% marker");
  await waitFor(() => views.every((v) => (v.jobs.get(id)?.percent ?? 0) >= 40), {
    what: "every client to see the job at 40%",
  });

  const percentAtKill = views[0]?.jobs.get(id)?.percent;
  const seqAtKill = views[0]?.jobs.get(id)?.seq ?? 0;
  await redis.kill();
  const killedAt = Date.now();
  // The scenario itself: the server stays dead for one second.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await redis.restart();
  const restartedAt = Date.now();

  const firstWrite = await worker.waitForEvent(
    (e) => e.event === "write" && (e.at as number) >= restartedAt,
    "the worker's first write after the restart",
  );
  await waitFor(() => views.every((v) => v.snapshots >= 1), {
    what: "a snapshot event on every client",
  });
  const snapshotAt = Date.now();

  const finished = await worker.waitForEvent((e) => e.event === "finished", "the worker to finish");
  expect(await worker.exited).toEqual({ code: 0, signal: null });
  expect(worker.stderr).toBe("");

  const truth = await storedJobs(redis.client(), scope);
  const job = truth[id];
  expect(job).toMatchObject({ percent: 100, count: 100, status: "completed" });
  expect(typeof job?.finished_at).toBe("string");
  // Recreated from the tracker's view: seq continued above what clients had seen.
  expect(job?.seq).toBeGreaterThan(seqAtKill);
  await waitFor(() => views.every((v) => v.equals(truth)), {
    what: "every client to equal HGETALL",
  });
  await waitFor(() => sdk !== undefined && sameJobs(sdk.jobs(scope), truth), {
    what: "the SDK client to equal HGETALL",
  });
  for (const view of views) expect(view.violations).toEqual([]);
  // The gateway is subscribed again, once.
  const [, subscribers] = (await redis
    .client()
    .call("PUBSUB", "NUMSUB", `resque:pace:${scope}`)) as [string, number];
  expect(subscribers).toBe(1);

  report("1 redis-kill", {
    percentAtKill,
    outageMs: restartedAt - killedAt,
    restartToFirstWriteMs: (firstWrite.at as number) - restartedAt,
    restartToSnapshotOnAllClientsMs: snapshotAt - restartedAt,
    workerWriteErrors: finished.errors,
    finalSeq: job?.seq,
  });
});
