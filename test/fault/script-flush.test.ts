/**
 * Fault 2: SCRIPT FLUSH between writes. Every script call goes through ioredis'
 * defineCommand (EVALSHA, then EVAL on NOSCRIPT), so writes, the gateway's
 * snapshot reads, the queries and remove all go on; also with many calls in
 * flight at once on one connection. The code sends no pipeline or MULTI (the
 * last test checks the sources), so there is no pipelined NOSCRIPT to recover.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { RedisProgress } from "../../shared";
import { TestGateway } from "../helpers/gateway";
import { ScopeView, commandCounts, report, storedJobs } from "../helpers/fault";
import { waitFor } from "../helpers/wait";

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start();
});

afterAll(async () => {
  await tg.stop();
});

test("writes, snapshot reads, queries and remove survive SCRIPT FLUSH between every step", async () => {
  const scope = "fault:flush";
  const admin = tg.redis.client();
  const token = await tg.token(["fault:*"]);
  const views = await ScopeView.openMany(3, () => tg.connect(token), scope);
  await admin.config("RESETSTAT");
  let flushes = 0;
  const flush = async () => {
    expect(await admin.script("FLUSH")).toBe("OK");
    flushes += 1;
  };

  // Ten trackers on the shared URL connection and one on a client of ours: their
  // writes are in flight together when the cache is empty.
  await flush();
  const own = tg.redis.client();
  const trackers = await Promise.all([
    ...Array.from({ length: 10 }, (_, i) =>
      RedisProgress.start({ redis: tg.redis.url, scope, id: `url-${i}`, total: 50, interval: 1 }),
    ),
    RedisProgress.start({ redis: own, scope, id: "own", total: 50, interval: 1 }),
  ]);
  for (let round = 1; round <= 4; round++) {
    await flush();
    for (const pace of trackers) pace.tick(10);
    await Promise.all(trackers.map((pace) => pace.flush()));
  }

  await flush();
  const listed = await RedisProgress.jobs({ redis: tg.redis.url, scope });
  expect(Object.keys(listed)).toHaveLength(11);
  await flush();
  expect(await RedisProgress.find({ redis: own, scope, id: "own" })).toMatchObject({ count: 40 });

  // A scope the gateway does not hold yet: its snapshot read runs on an empty cache.
  await flush();
  await ScopeView.open(tg.connect(token), "fault:flush-other");
  await flush();
  const res = await fetch(`${tg.url}/api/jobs?scope=fault:flush-third`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);

  await flush();
  for (const pace of trackers) pace.tick(10);
  await Promise.all(trackers.map((pace) => pace.finish()));
  await flush();
  expect(await RedisProgress.remove({ redis: tg.redis.url, scope, id: "url-0" })).toBe(1);

  const truth = await storedJobs(admin, scope);
  expect(Object.keys(truth)).toHaveLength(10);
  for (const job of Object.values(truth)) {
    expect(job).toMatchObject({ count: 50, percent: 100, status: "completed" });
  }
  await waitFor(() => views.every((v) => v.equals(truth)), {
    what: "every client to equal HGETALL",
  });
  for (const view of views) expect(view.violations).toEqual([]);

  // Each flush really sent scripts down the NOSCRIPT path (EVAL after EVALSHA).
  const counts = await commandCounts(admin);
  expect(counts.eval ?? 0).toBeGreaterThanOrEqual(flushes);
  report("2 script-flush", {
    flushes,
    evalsha: counts.evalsha,
    evalAfterNoscript: counts.eval,
  });
});

test("the code sends no pipeline or MULTI (else this case must cover NOSCRIPT inside one)", () => {
  const root = join(__dirname, "..", "..");
  const offenders: string[] = [];
  const scan = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) scan(path);
      else if (entry.name.endsWith(".ts")) {
        const text = readFileSync(join(root, path), "utf8");
        if (/\.(pipeline|multi)\(|enableAutoPipelining/.test(text)) offenders.push(path);
      }
    }
  };
  for (const dir of ["shared", "server", "client"]) scan(dir);
  expect(offenders).toEqual([]);
});
