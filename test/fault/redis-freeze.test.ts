/**
 * Fault 3: Redis frozen with SIGSTOP for longer than the command timeouts. The
 * server's sockets stay open and nothing answers, the failure TCP cannot see.
 *
 * - The worker's writes fail fast (after `writeTimeout`) and are reported on its
 *   "error" event; they are not queued without bound: a tracker keeps at most one
 *   command in the connection, so when the server wakes up it runs at most a
 *   couple of stale writes, not one per timeout.
 * - Health checks find the dead connections and replace them: the tracker's (its
 *   pending write times out the socket), and the gateway's command and pub/sub
 *   connections (a periodic PING). /healthz answers 503 meanwhile, and a new
 *   subscribe is answered `unavailable` at once.
 * - After SIGCONT every connection open before the freeze has been replaced,
 *   clients get a `snapshot`, and everything converges on the final state.
 */
import { TestGateway, subscribe } from "../helpers/gateway";
import { ScopeView, killChildren, report, startWorker, storedJobs } from "../helpers/fault";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

const WRITE_TIMEOUT = 300;
const REDIS_TIMEOUT = 400;
const FREEZE_MS = 3000;

let redis: TestRedis;
let tg: TestGateway;

beforeAll(async () => {
  redis = await TestRedis.start();
  tg = await TestGateway.start({
    redis,
    gateway: { redisTimeout: REDIS_TIMEOUT, healthCheckInterval: 200 },
  });
});

afterAll(async () => {
  killChildren();
  redis.thaw();
  await tg.stop();
  await redis.stop();
});

/** Ids of the server's client connections, except `mine`. */
async function clientIds(admin: ReturnType<TestRedis["client"]>, mine: Set<string>) {
  const list = (await admin.call("CLIENT", "LIST")) as string;
  return list
    .split("\n")
    .map((line) => /^id=(\d+)/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined && !mine.has(id));
}

test("SIGSTOP longer than the timeouts: fast reported failures, bounded queue, reconnect, convergence", async () => {
  const scope = "fault:freeze";
  const id = "frozen-redis";
  const admin = redis.client();
  const mine = new Set([String(await admin.client("ID"))]);
  const token = await tg.token(["fault:*"]);
  const views = await ScopeView.openMany(3, () => tg.connect(token), scope);
  const late = await tg.connect(token);

  const worker = startWorker({
    REDIS_URL: redis.url,
    SCOPE: scope,
    ID: id,
    TOTAL: 200,
    MODE: "steady",
    STEP_MS: 40,
    INTERVAL: 20,
    WRITE_TIMEOUT,
    TIMEOUT: 30_000,
    LOG_WRITES: "1",
  });
  await worker.waitForEvent((e) => e.event === "ready", "the worker's 0% marker");
  await waitFor(() => views.every((v) => (v.jobs.get(id)?.percent ?? 0) >= 15), {
    what: "every client to see the job at 15%",
  });
  const before = await clientIds(admin, mine);
  expect(before.length).toBeGreaterThanOrEqual(3); // the gateway's two, the worker's one

  redis.freeze();
  const frozenAt = Date.now();
  const firstError = await worker.waitForEvent(
    (e) => e.event === "error" && (e.at as number) >= frozenAt,
    "a write error reported while Redis is frozen",
  );
  // The gateway sees it too: health 503, and a new scope is refused at once.
  await waitFor(async () => (await fetch(`${tg.url}/healthz`)).status === 503, {
    what: "/healthz to answer 503",
  });
  const refusedAt = performance.now();
  const ack = await subscribe(late, "fault:freeze-late");
  const refusalMs = Math.round(performance.now() - refusedAt);
  expect(ack).toMatchObject({ ok: false, error: { code: "unavailable" } });
  // The scenario: the server stays frozen well past every timeout.
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, frozenAt + FREEZE_MS - Date.now())),
  );
  const errorsDuringFreeze = worker.events.filter(
    (e) => e.event === "error" && (e.at as number) >= frozenAt,
  ).length;
  // The last write before the freeze, read now: no write completes while Redis is
  // frozen, and by now the worker's report of every earlier one has arrived.
  const seqBefore = Math.max(
    0,
    ...worker.events.filter((e) => e.event === "write").map((e) => e.seq as number),
  );
  redis.thaw();
  const thawedAt = Date.now();

  const firstWrite = await worker.waitForEvent(
    (e) => e.event === "write" && (e.at as number) >= thawedAt,
    "the worker's first write after SIGCONT",
  );
  await waitFor(() => views.every((v) => v.snapshots >= 1), {
    what: "a snapshot event on every client (the gateway resubscribed)",
  });
  const snapshotAt = Date.now();
  // Every connection that was open before the freeze was found dead and replaced.
  const after = await waitFor(
    async () => {
      const ids = await clientIds(admin, mine);
      return before.every((old) => !ids.includes(old)) ? ids : undefined;
    },
    { what: "every pre-freeze connection to be replaced" },
  );
  expect(after.length).toBeGreaterThanOrEqual(3);
  // Polled: with redisTimeout 400 ms, a stall of the test process that long
  // makes the health check take a live connection for dead and replace it.
  await waitFor(async () => (await subscribe(late, "fault:freeze-late")).ok, {
    what: "a new subscribe after the thaw to succeed",
  });
  await waitFor(async () => (await fetch(`${tg.url}/healthz`)).status === 200, {
    what: "/healthz to answer 200 after the thaw",
  });

  const finished = await worker.waitForEvent((e) => e.event === "finished", "the worker to finish");
  expect(await worker.exited).toEqual({ code: 0, signal: null });
  expect(worker.stderr).toBe("");
  const truth = await storedJobs(admin, scope);
  expect(truth[id]).toMatchObject({ count: 200, percent: 100, status: "completed" });
  await waitFor(() => views.every((v) => v.equals(truth)), {
    what: "every client to equal HGETALL",
  });
  for (const view of views) expect(view.violations).toEqual([]);

  // Writes that ran on the server between the last one before the freeze and the
  // first one the worker saw after it: stale ones the connection had kept.
  const staleWrites = (firstWrite.seq as number) - seqBefore - 1;
  expect(staleWrites).toBeLessThanOrEqual(3);
  expect(errorsDuringFreeze).toBeGreaterThanOrEqual(2);
  report("3 redis-freeze", {
    freezeMs: thawedAt - frozenAt,
    writeTimeoutMs: WRITE_TIMEOUT,
    firstErrorAfterFreezeMs: (firstError.at as number) - frozenAt,
    errorsReportedDuringFreeze: errorsDuringFreeze,
    newSubscribeRefusedInMs: refusalMs,
    staleWritesRunAfterThaw: staleWrites,
    thawToFirstWriteMs: (firstWrite.at as number) - thawedAt,
    thawToSnapshotOnAllClientsMs: snapshotAt - thawedAt,
    workerErrorsTotal: finished.errors,
  });
});
