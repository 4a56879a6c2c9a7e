/**
 * Convergence: clients joining at random moments while a worker writes fast
 * all end equal to what Redis holds, and never see a job's `seq` go back;
 * after the gateway's pub/sub connection is killed, clients get `snapshot`
 * events and converge again.
 */
import type { JobMap, JobValue } from "../../shared/job";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { TestGateway, waitFor, type ClientSocket } from "../helpers/gateway";
import { ScopeView } from "../helpers/scope-view";

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start({
    gateway: { limits: { subscribeBurst: 1000, subscribeRate: 1000 } },
  });
});

afterAll(async () => {
  await tg.stop();
});

/** One subscription per socket, so an event for another scope is a violation too. */
function scopeView(socket: ClientSocket, scope: string): ScopeView {
  return new ScopeView(socket, scope, { foreignIsViolation: true });
}

async function stored(scope: string): Promise<JobMap> {
  const raw = await tg.redis.client().hgetall(`resque:pace:${scope}`);
  return Object.fromEntries(Object.entries(raw).map(([id, v]) => [id, JSON.parse(v) as JobValue]));
}

/** Writes as fast as Redis answers until `until()` is true, then finishes every job. */
async function fastWorker(scope: string, jobs: number, until: () => boolean): Promise<number> {
  const trackers = await Promise.all(
    Array.from({ length: jobs }, (_, i) =>
      RedisProgress.start({
        redis: tg.redis.url,
        scope,
        total: 1_000_000,
        name: `job ${i}`,
        interval: 20,
      }),
    ),
  );
  let writes = 0;
  await Promise.all(
    trackers.map(async (pace) => {
      while (!until()) {
        pace.tick(1000);
        await pace.flush();
        writes += 1;
      }
      await pace.finish();
    }),
  );
  return writes;
}

test("50 clients joining at random moments while a worker writes fast all end equal to HGETALL", async () => {
  const scope = "conv:1";
  const token = await tg.token([scope]);
  const views: ScopeView[] = [];
  let joined = 0;
  const joins = Array.from({ length: 50 }, async () => {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 600));
    const view = scopeView(await tg.connect(token), scope);
    views.push(view);
    await view.subscribe();
    joined += 1;
  });
  // Keep writing until every client joined, and a little after.
  let stopAt = Infinity;
  const writer = fastWorker(scope, 4, () => {
    if (joined === 50 && stopAt === Infinity) stopAt = Date.now() + 200;
    return Date.now() > stopAt;
  });
  await Promise.all(joins);
  const writes = await writer;
  expect(writes).toBeGreaterThan(50);

  const truth = await stored(scope);
  expect(Object.keys(truth)).toHaveLength(4);
  await waitFor(() => views.every((v) => v.equals(truth)), {
    what: "every client to equal HGETALL",
  });
  for (const view of views) expect(view.violations).toEqual([]);
  for (const job of Object.values(truth)) expect(job.status).toBe("completed");
});

test("CLIENT KILL TYPE pubsub leads to snapshot events and convergence", async () => {
  const scope = "conv:2";
  const token = await tg.token([scope]);
  const views = await Promise.all(
    Array.from({ length: 10 }, async () => {
      const view = scopeView(await tg.connect(token), scope);
      await view.subscribe();
      return view;
    }),
  );
  const pace = await RedisProgress.start({ redis: tg.redis.url, scope, total: 100, interval: 20 });
  pace.tick(10);
  await pace.flush();
  await waitFor(() => views.every((v) => v.jobs.get(pace.id)?.count === 10));

  const admin = tg.redis.client();
  const killed = (await admin.call("CLIENT", "KILL", "TYPE", "pubsub")) as number;
  expect(killed).toBeGreaterThanOrEqual(1);
  // Written while the gateway is reconnecting: the message is likely lost,
  // and only the re-read snapshot can bring it.
  pace.tick(30);
  await pace.flush();

  await waitFor(() => views.every((v) => v.snapshots >= 1), { what: "snapshot events" });
  const channels = (await admin.call("PUBSUB", "NUMSUB", `resque:pace:${scope}`)) as [
    string,
    number,
  ];
  expect(channels[1]).toBe(1);
  pace.tick(60);
  await pace.finish();
  const truth = await stored(scope);
  await waitFor(() => views.every((v) => v.equals(truth)), { what: "convergence after resync" });
  for (const view of views) expect(view.violations).toEqual([]);
  expect(truth[pace.id]).toMatchObject({ percent: 100, status: "completed" });
});

test("after Redis restarts empty, clients get a snapshot and converge on the recreated job", async () => {
  const scope = "conv:3";
  const view = scopeView(await tg.connect(await tg.token([scope])), scope);
  await view.subscribe();
  const pace = await RedisProgress.start({
    redis: tg.redis.url,
    scope,
    total: 10,
    interval: 20,
    timeout: 20_000,
  });
  pace.on("error", () => {
    // Writes fail while Redis is down; the tracker retries.
  });
  pace.tick(2);
  await pace.flush();
  await waitFor(() => view.jobs.get(pace.id)?.count === 2);
  const before = view.snapshots;

  await tg.redis.restart();
  await waitFor(() => view.snapshots > before, { what: "a snapshot after the restart" });
  pace.tick(3);
  await pace.flush();
  await pace.finish();
  const truth = await stored(scope);
  expect(truth[pace.id]).toMatchObject({ count: 5, percent: 100, status: "completed" });
  await waitFor(() => view.equals(truth), { what: "convergence after the restart" });
});
