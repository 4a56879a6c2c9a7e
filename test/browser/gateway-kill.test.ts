/**
 * The dashboard against a gateway PROCESS that is SIGKILLed (no close frames,
 * no shutdown) and started again on the same port: the page shows
 * "Reconnecting…", then the state Redis holds, and stays live.
 */
import type { Redis } from "ioredis";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { buildBundle, launchBrowser, type TestBrowser } from "../helpers/browser";
import { GatewayProcess, killChildren } from "../helpers/fault";
import { TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let client: Redis;
let browser: TestBrowser;

beforeAll(async () => {
  await buildBundle();
  redis = await TestRedis.start();
  client = redis.client();
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  killChildren();
  await redis?.stop();
});

afterEach(() => {
  // Refused connections while the gateway is down are expected console errors.
  const problems = (browser?.problems.splice(0) ?? []).filter(
    (problem) => !/ERR_CONNECTION_REFUSED|WebSocket connection/.test(problem),
  );
  expect(problems).toEqual([]);
});

test("SIGKILL of the gateway process: reconnecting…, then the right state after a restart on the same port", async () => {
  const gateway = await GatewayProcess.start({ REDIS_URL: redis.url, PACE_DEMO: "1" });
  const scope = "user:killed";
  const page = await browser.page();
  await page.goto(`${gateway.url}/#scope=${scope}`);
  await page.locator(`.rp-jobs[data-scope="${scope}"][data-state="connected"]`).waitFor();

  const start = (total: number, name: string) =>
    RedisProgress.start({ redis: client, scope, total, name, interval: 40 });
  const kept = await start(10, "Resize photos");
  kept.tick(3);
  await kept.flush();
  // Removed below and never finished (finishing would write it back): a heartbeat
  // longer than the test run keeps its timer from writing after Redis is gone.
  const removed = await RedisProgress.start({
    redis: client,
    scope,
    total: 10,
    name: "Send newsletter",
    heartbeat: 600_000,
  });
  const row = (id: string) => page.locator(`.rp-job[data-job-id="${id}"]`);
  await row(kept.id).locator('[aria-valuenow="30"]').waitFor();
  await row(removed.id).waitFor();

  await gateway.kill();
  await page.locator('#conn[data-state="reconnecting"]', { hasText: "Reconnecting…" }).waitFor();

  // While no gateway runs: one job goes on, one is removed, one appears and ends.
  kept.tick(5);
  await kept.flush();
  await RedisProgress.remove({ redis: client, scope, id: removed.id });
  const added = await start(4, "Sync calendar");
  await added.finish();

  await gateway.spawn(); // the same port
  try {
    await row(added.id).locator(".rp-state", { hasText: "Completed" }).waitFor({ timeout: 20_000 });
    await row(kept.id).locator('[aria-valuenow="80"]').waitFor();
    expect(await row(removed.id).count()).toBe(0);
    await page.locator('#conn[data-state="connected"]').waitFor();
    kept.tick(2);
    await kept.finish();
    await row(kept.id).locator('[aria-valuenow="100"]').waitFor();
  } finally {
    await page.close();
    expect(await gateway.stop()).toBe(0);
  }
});
