/**
 * The dashboard at `/` in headless Chromium, against the real gateway (demo
 * mode: token from GET /demo/token) and a real redis-server. Jobs are written
 * by the real tracker from the test, in scopes the demo token grants (`user:*`)
 * but the demo workers do not write to.
 */
import type { Page } from "playwright-core";
import { createGateway, type Gateway } from "../../server";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { TEST_SECRET, TestGateway, waitFor } from "../helpers/gateway";
import { buildBundle, launchBrowser, screenshot, type TestBrowser } from "../helpers/browser";
import { PrefixProxy } from "../helpers/prefix-proxy";
import { TestRedis } from "../helpers/redis-server";
import type { Redis } from "ioredis";
import pino from "pino";

let redis: TestRedis;
let client: Redis;
let gateway: TestGateway;
let browser: TestBrowser;

beforeAll(async () => {
  await buildBundle();
  redis = await TestRedis.start();
  client = redis.client();
  gateway = await TestGateway.start({ redis, gateway: { demo: true } });
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop().catch(() => {});
  await redis?.stop();
});

afterEach(() => {
  // CSP violations, uncaught errors and console errors fail the test that caused them.
  const problems = browser?.problems.splice(0);
  expect(problems).toEqual([]);
});

function tracker(scope: string, total: number, name: string): Promise<RedisProgress> {
  return RedisProgress.start({ redis: client, scope, total, name, interval: 40 });
}

async function open(scope: string): Promise<Page> {
  const page = await browser.page();
  await page.goto(`${gateway.url}/#scope=${scope}`);
  await page.locator(`.rp-jobs[data-scope="${scope}"][data-state="connected"]`).waitFor();
  return page;
}

function row(page: Page, id: string) {
  return page.locator(`.rp-job[data-job-id="${id}"]`);
}

/** Waits until the live list of `scope` shows a job (demo workers write every few hundred ms). */
function firstLiveJob(page: Page, scope: string): Promise<void> {
  return page
    .locator(`.rp-jobs[data-scope="${scope}"][data-state="connected"] .rp-job`)
    .first()
    .waitFor({ timeout: 20_000 });
}

/** Records every aria-valuenow the job's bar shows, from the page itself. */
async function recordValues(page: Page): Promise<void> {
  await page.evaluate(() => {
    const values: number[] = [];
    (window as unknown as { values: number[] }).values = values;
    new MutationObserver((records) => {
      for (const r of records) {
        const target = r.target as Element;
        if (target.getAttribute("role") === "progressbar") {
          values.push(Number(target.getAttribute("aria-valuenow")));
        }
      }
    }).observe(document.body, {
      subtree: true,
      attributes: true,
      attributeFilter: ["aria-valuenow"],
    });
  });
}

test("a live job's bar rises to 100 and shows completed; the dashboard is screenshotted", async () => {
  const page = await open("user:live");
  await expect(page.locator(".rp-empty").textContent()).resolves.toBe("No jobs in user:live yet.");
  await recordValues(page);
  const pace = await tracker("user:live", 60, "Import contacts");
  const bar = row(page, pace.id).locator('[role="progressbar"]');
  await bar.waitFor();
  expect(await bar.getAttribute("aria-valuemin")).toBe("0");
  expect(await bar.getAttribute("aria-valuemax")).toBe("100");
  expect(await bar.getAttribute("aria-label")).toBe("Import contacts");
  for (let i = 0; i < 60; i++) {
    pace.tick();
    await new Promise((resolve) => setTimeout(resolve, 15)); // the simulated work
  }
  await pace.finish();
  await waitFor(async () => (await bar.getAttribute("aria-valuenow")) === "100", {
    what: "aria-valuenow 100",
  });
  await row(page, pace.id).locator(".rp-state", { hasText: "Completed" }).waitFor();
  const values = await page.evaluate(() => (window as unknown as { values: number[] }).values);
  expect(values.at(-1)).toBe(100);
  expect(new Set(values).size).toBeGreaterThanOrEqual(3); // it rose in steps, live
  expect(values).toEqual([...values].sort((a, b) => a - b)); // never went back
  await expect(row(page, pace.id).locator(".rp-count").textContent()).resolves.toBe("60 / 60");

  // The screenshot: the demo scope with its simulated workers, once one has finished.
  await page.locator('.chip[data-scope="user:1"]').click();
  await page
    .locator('.rp-jobs[data-scope="user:1"] .rp-job[data-status="completed"]')
    .first()
    .waitFor({ timeout: 30_000 });
  expect(page.url()).toContain("#scope=user%3A1");
  await expect(page.locator('.chip[aria-pressed="true"]').textContent()).resolves.toBe("user:1");
  await screenshot(page, "dashboard");
  await page.close();
}, 90_000);

test("every status renders: running with time left, completed, failed, stalled, nested children", async () => {
  // Times near the early end of their words' ranges ("about 3 minutes left"
  // from 210 s down to 150 s, "3 minutes ago" from 150 s up to 210 s): the
  // texts hold for about a minute after `now`, however slow the page is to open.
  const now = Date.now();
  const iso = (offset: number) => new Date(now + offset).toISOString();
  const base = { heartbeat: 30_000, started_at: iso(-600_000), finished_at: null };
  const jobs = {
    run: {
      ...base,
      percent: 42,
      count: 1260,
      total: 3000,
      status: "running",
      name: "Reindex search",
      started_at: iso(-400_000),
      updated_at: iso(0),
      estimated_finished_at: iso(205_000),
      rate: 11.6,
      seq: 40,
    },
    done: {
      ...base,
      percent: 100,
      count: 820,
      total: 820,
      status: "completed",
      name: "Export invoices",
      updated_at: iso(-155_000),
      finished_at: iso(-155_000),
      estimated_finished_at: iso(-155_000),
      seq: 30,
    },
    fail: {
      ...base,
      percent: 63,
      count: 6300,
      total: 10_000,
      status: "failed",
      name: "Send newsletter",
      error: "SMTP 421: connection reset by smtp.example.com",
      updated_at: iso(-60_000),
      finished_at: iso(-60_000),
      estimated_finished_at: iso(-60_000),
      seq: 12,
    },
    dead: {
      ...base,
      percent: 17,
      count: 170,
      total: 1000,
      status: "running",
      name: "Sync calendar",
      updated_at: iso(-275_000),
      estimated_finished_at: iso(-100_000),
      seq: 5,
    },
    parent: {
      ...base,
      percent: 55,
      count: 55,
      total: 100,
      status: "running",
      name: "Transcode videos",
      started_at: iso(-1000),
      updated_at: iso(0),
      estimated_finished_at: iso(40_000),
      seq: 9,
    },
    child1: {
      ...base,
      percent: 80,
      count: 8,
      total: 10,
      status: "running",
      name: "intro.mp4 (1080p)",
      parent: "parent",
      updated_at: iso(0),
      estimated_finished_at: iso(5_000),
      seq: 3,
    },
    child2: {
      ...base,
      percent: 30,
      count: 3,
      total: 10,
      status: "running",
      name: "talk.mp4 (4K)",
      parent: "parent",
      updated_at: iso(0),
      estimated_finished_at: iso(70_000),
      seq: 3,
    },
  };
  for (const [id, value] of Object.entries(jobs)) {
    await client.hset("resque:pace:user:showcase", id, JSON.stringify({ id, ...value }));
  }
  const page = await open("user:showcase");
  await row(page, "run").waitFor();
  await expect(row(page, "run").locator(".rp-time").textContent()).resolves.toBe(
    "about 3 minutes left",
  );
  expect(await row(page, "done").locator(".rp-time").textContent()).toBe("finished 3 minutes ago");
  expect(await row(page, "dead").getAttribute("data-status")).toBe("stalled");
  expect(await row(page, "dead").locator(".rp-state").textContent()).toBe("Stalled");
  expect(await row(page, "dead").locator(".rp-time").textContent()).toBe(
    "last update 5 minutes ago",
  );
  expect(await row(page, "fail").locator(".rp-error").textContent()).toContain("SMTP 421");
  // Children sit inside their parent's row; running jobs come first, newest started first.
  expect(await row(page, "parent").locator('.rp-children > [data-job-id="child1"]').count()).toBe(
    1,
  );
  const order = await page
    .locator(".rp-list > .rp-job")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-job-id")));
  expect(order).toEqual(["parent", "run", "dead", "fail", "done"]);
  await screenshot(page, "dashboard-states");
  await page.close();
});

test("the sidebar counts jobs by the status their rows show: stalled and canceled apart", async () => {
  const now = Date.now();
  const iso = (offset: number) => new Date(now + offset).toISOString();
  const value = (status: string, updatedAgo: number, ended: boolean) => ({
    percent: 50,
    count: 5,
    total: 10,
    status,
    started_at: iso(-600_000),
    updated_at: iso(-updatedAgo),
    estimated_finished_at: null,
    finished_at: ended ? iso(-updatedAgo) : null,
    heartbeat: 30_000,
    seq: 3,
  });
  const jobs = {
    run1: value("running", 0, false),
    run2: value("running", 0, false),
    // Three heartbeats without a write: shown as stalled.
    dead: value("running", 275_000, false),
    done: value("completed", 60_000, true),
    fail: value("failed", 60_000, true),
    stop1: value("canceled", 60_000, true),
    stop2: value("canceled", 90_000, true),
  };
  for (const [id, job] of Object.entries(jobs)) {
    await client.hset("resque:pace:user:counts", id, JSON.stringify({ id, ...job }));
  }
  const page = await open("user:counts");
  await row(page, "stop2").waitFor();
  const shown = await page
    .locator(".rp-list > .rp-job")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-status")));
  const counted = Object.fromEntries(
    ["running", "stalled", "completed", "failed", "canceled"].map((status) => [
      status,
      String(shown.filter((s) => s === status).length),
    ]),
  );
  expect(counted).toEqual({
    running: "2",
    stalled: "1",
    completed: "1",
    failed: "1",
    canceled: "2",
  });
  // Every count is written at once, from the same snapshot.
  await waitFor(async () => (await page.locator("#stat-failed").textContent()) === "1", {
    what: "the counts",
  });
  const stats: Record<string, string> = {};
  for (const status of Object.keys(counted)) {
    stats[status] = (await page.locator(`#stat-${status}`).textContent()) ?? "";
  }
  expect(stats).toEqual(counted);
  await page.close();
});

test("a failed job shows its error", async () => {
  const page = await open("user:fail");
  const pace = await tracker("user:fail", 10, "Export invoices");
  pace.tick(4);
  await pace.fail(new Error("Disk full on worker 7"));
  const job = row(page, pace.id);
  await job.locator(".rp-error", { hasText: "Disk full on worker 7" }).waitFor();
  expect(await job.getAttribute("data-status")).toBe("failed");
  await expect(job.locator(".rp-state").textContent()).resolves.toBe("Failed");
  await expect(job.locator('[role="progressbar"]').getAttribute("aria-valuenow")).resolves.toBe(
    "40",
  );
  await page.close();
});

test("a scope the token does not grant shows a clear message; an invalid one is refused early", async () => {
  const page = await open("user:1");
  await page.locator("#scope-input").fill("admin:1");
  await page.locator("#scope-input").press("Enter");
  const banner = page.locator('.rp-jobs[data-scope="admin:1"] .rp-banner');
  await banner.filter({ hasText: "Access denied" }).waitFor();
  expect(await banner.textContent()).toBe(
    "Access denied: your token does not allow watching admin:1.",
  );
  expect(await banner.getAttribute("data-kind")).toBe("error");
  expect(await page.locator(".rp-job").count()).toBe(0);

  await page.locator("#scope-input").fill("user:*");
  await page.locator("#scope-input").press("Enter");
  await page.locator("#scope-hint", { hasText: "is not a valid scope" }).waitFor();
  expect(await page.locator("#scope-input").getAttribute("aria-invalid")).toBe("true");
  await page.close();
});

test("killing the gateway shows reconnecting…, and after a restart the right state again", async () => {
  const page = await open("user:restart");
  const kept = await tracker("user:restart", 10, "Resize photos");
  kept.tick(3);
  await kept.flush();
  // Removed below and never finished (finishing would write it back): a heartbeat
  // longer than the test run keeps its timer from writing after Redis is gone.
  const removed = await RedisProgress.start({
    redis: client,
    scope: "user:restart",
    total: 10,
    name: "Send newsletter",
    heartbeat: 600_000,
  });
  await row(page, kept.id).locator('[aria-valuenow="30"]').waitFor();
  await row(page, removed.id).waitFor();

  const port = gateway.port;
  await gateway.stop();
  await page
    .locator('.rp-banner[data-kind="reconnecting"]', { hasText: "Reconnecting…" })
    .waitFor();
  await page.locator('#conn[data-state="reconnecting"]', { hasText: "Reconnecting…" }).waitFor();

  // While the gateway is down: one job goes on, one is removed, one appears.
  kept.tick(5);
  await kept.flush();
  await RedisProgress.remove({ redis: client, scope: "user:restart", id: removed.id });
  const added = await tracker("user:restart", 4, "Sync calendar");
  await added.finish();

  let restarted: Gateway | undefined;
  try {
    restarted = createGateway({
      secret: TEST_SECRET,
      redis: redis.url,
      demo: true,
      logger: pino({ level: "silent" }),
    });
    await restarted.listen(port, "127.0.0.1");
    await row(page, added.id).locator(".rp-state", { hasText: "Completed" }).waitFor({
      timeout: 20_000,
    });
    await row(page, kept.id).locator('[aria-valuenow="80"]').waitFor();
    expect(await row(page, removed.id).count()).toBe(0);
    await page.locator('#conn[data-state="connected"]').waitFor();
    expect(await page.locator(".rp-banner").isHidden()).toBe(true);
    // Still live after the restart.
    kept.tick(2);
    await kept.finish();
    await row(page, kept.id).locator('[aria-valuenow="100"]').waitFor();
  } finally {
    await page.close();
    await restarted?.close();
  }
});

test("without demo mode the token comes from the URL fragment, or is pasted", async () => {
  const plain = await TestGateway.start({ redis });
  try {
    const pace = await tracker("user:plain", 5, "Resize photos");
    pace.tick(1);
    await pace.flush();
    const token = await plain.token(["user:plain"]);

    const asked = await browser.page();
    await asked.goto(`${plain.url}/#scope=user:plain`);
    await asked.locator("#token-form").waitFor();
    expect(await asked.locator("#conn").textContent()).toBe("No token");
    await asked.locator("#token-input").fill(token);
    await asked.locator("#token-input").press("Enter");
    await row(asked, pace.id).locator('[aria-valuenow="20"]').waitFor();
    expect(await asked.locator("#token-form").isHidden()).toBe(true);
    expect(asked.url()).toContain(`#token=${token}&scope=user%3Aplain`);
    await asked.close();

    const linked = await browser.page();
    await linked.goto(`${plain.url}/#token=${token}&scope=user:plain`);
    await row(linked, pace.id).locator('[aria-valuenow="20"]').waitFor();
    expect(await linked.locator("#mode").textContent()).toBe("token");
    // This token grants user:plain only.
    await linked.locator("#scope-input").fill("user:2");
    await linked.locator("#scope-input").press("Enter");
    await linked
      .locator('.rp-jobs[data-scope="user:2"] .rp-banner', { hasText: "Access denied" })
      .waitFor();
    await pace.finish();
    await linked.close();
  } finally {
    await plain.stop();
  }
});

test("with a non-default Socket.IO path, directly and behind a proxy's prefix, the demo goes live", async () => {
  // The demo workers of this gateway (and of the suite's) write to user:1.
  const custom = await TestGateway.start({ redis, gateway: { demo: true, path: "/rp/socket.io" } });
  const proxy = await PrefixProxy.start(custom.url, "/progress");
  try {
    for (const base of [custom.url, proxy.url]) {
      const page = await browser.page();
      await page.goto(`${base}/#scope=user:1`);
      await page.locator('#conn[data-state="connected"]', { hasText: "Live" }).waitFor();
      await firstLiveJob(page, "user:1");
      await page.close();
    }
  } finally {
    await proxy.close();
    await custom.stop();
  }
}, 60_000);

test("with a token and no demo, behind a proxy's prefix, the dashboard connects under the prefix", async () => {
  const plain = await TestGateway.start({ redis });
  const proxy = await PrefixProxy.start(plain.url, "/progress");
  try {
    const pace = await tracker("user:proxied", 4, "Resize photos");
    pace.tick(1);
    await pace.flush();
    const token = await plain.token(["user:proxied"]);
    const page = await browser.page();
    await page.goto(`${proxy.url}/#token=${token}&scope=user:proxied`);
    await row(page, pace.id).locator('[aria-valuenow="25"]').waitFor();
    await expect(page.locator("#conn").textContent()).resolves.toBe("Live");
    await pace.finish();
    await page.close();
  } finally {
    await proxy.close();
    await plain.stop();
  }
});

test("custom demo scopes are the page's scopes, with their jobs", async () => {
  const teams = await TestGateway.start({
    redis,
    gateway: { demo: { scopes: ["team:1", "team:2"], interval: 100 } },
  });
  try {
    const page = await browser.page();
    await page.goto(`${teams.url}/`);
    await firstLiveJob(page, "team:1");
    await expect(page.locator("#jobs-title").textContent()).resolves.toBe("Jobs in team:1");
    await expect(page.locator(".chip").allTextContents()).resolves.toEqual(["team:1", "team:2"]);
    await expect(page.locator("#foot-text").textContent()).resolves.toBe(
      "Demo mode: simulated workers write to team:1 and team:2 through the real tracker.",
    );
    expect(await page.locator(".rp-banner").filter({ hasText: "Access denied" }).count()).toBe(0);
    await page.locator('.chip[data-scope="team:2"]').click();
    await firstLiveJob(page, "team:2");
    await page.close();
  } finally {
    await teams.stop();
  }
}, 60_000);
