/**
 * Cancel and nested children on the dashboard, in headless Chromium, against
 * the real gateway and a real redis-server. The worker is the real tracker in
 * this process: it ticks until its signal aborts, then ends the job canceled.
 */
import type { Redis } from "ioredis";
import type { Page } from "playwright-core";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { TestGateway, waitFor } from "../helpers/gateway";
import { buildBundle, launchBrowser, screenshot, type TestBrowser } from "../helpers/browser";
import { TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let client: Redis;
let demo: TestGateway;
let plain: TestGateway;
let browser: TestBrowser;

beforeAll(async () => {
  await buildBundle();
  redis = await TestRedis.start();
  client = redis.client();
  // Demo tokens grant `user:*` for watching and for cancelling.
  demo = await TestGateway.start({ redis, gateway: { demo: true } });
  plain = await TestGateway.start({ redis });
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop().catch(() => {});
  await plain?.stop().catch(() => {});
  await redis?.stop();
});

afterEach(() => {
  const problems = browser?.problems.splice(0);
  expect(problems).toEqual([]);
});

/** A worker loop: a tick every few ms until the signal aborts, then cancel(). */
function work(pace: RedisProgress): Promise<void> {
  return (async () => {
    while (!pace.signal.aborted && pace.count < pace.total) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      pace.tick();
    }
    if (pace.signal.aborted) await pace.cancel();
    else await pace.finish();
  })();
}

async function open(url: string, scope: string): Promise<Page> {
  const page = await browser.page();
  await page.goto(url);
  await page.locator(`.rp-jobs[data-scope="${scope}"][data-state="connected"]`).waitFor();
  return page;
}

function row(page: Page, id: string) {
  return page.locator(`.rp-job[data-job-id="${id}"]`);
}

test("with the claim: a cancel button on running jobs; clicking it shows cancel requested…, then canceled", async () => {
  const scope = "user:cx";
  const done = await RedisProgress.start({
    redis: client,
    scope,
    total: 3,
    name: "Export invoices",
  });
  await done.finish();
  const pace = await RedisProgress.start({
    redis: client,
    scope,
    total: 5000,
    name: "Reindex search",
    interval: 50,
  });
  const worker = work(pace);
  const page = await open(`${demo.url}/#scope=${scope}`, scope);
  const job = row(page, pace.id);
  const button = job.locator("button.rp-cancel");
  await button.waitFor();
  expect(await button.textContent()).toBe("Cancel");
  expect(await button.getAttribute("aria-label")).toBe("Cancel Reindex search");
  expect(await row(page, done.id).locator("button.rp-cancel").count()).toBe(0);

  // Every text the state badge shows, in order, recorded by the page.
  await job.locator(".rp-state").evaluate((state) => {
    const seen = [state.textContent ?? ""];
    (window as unknown as { states: string[] }).states = seen;
    new MutationObserver(() => {
      const text = state.textContent ?? "";
      if (seen.at(-1) !== text) seen.push(text);
    }).observe(state, { childList: true, characterData: true, subtree: true });
  });
  await button.click();
  // The recorder, not the badge: "cancel requested…" shows only until "Canceled"
  // arrives, which a locator's polling (every 500 ms after the first few) can miss.
  await page.waitForFunction(() =>
    (window as unknown as { states: string[] }).states.includes("Running · cancel requested…"),
  );
  expect(await job.getAttribute("class")).toContain("rp-cancel-requested");
  await job.locator('.rp-state:text-is("Canceled")').waitFor();
  expect(await job.getAttribute("data-status")).toBe("canceled");
  expect(await button.count()).toBe(0);
  await worker;
  expect(pace.status).toBe("canceled");
  expect(pace.count).toBeLessThan(pace.total);
  const states = await page.evaluate(() => (window as unknown as { states: string[] }).states);
  expect(states).toEqual(["Running", "Running · cancel requested…", "Canceled"]);
  const stored = await RedisProgress.find({ redis: client, scope, id: pace.id });
  expect(stored?.status).toBe("canceled");
  expect(stored?.cancel_requested_at).toBeInstanceOf(Date);
  await screenshot(page, "dashboard-canceled");
  await page.close();
});

test("without the claim there is no cancel button; a token with the claim brings it", async () => {
  const scope = "user:nocx";
  const pace = await RedisProgress.start({ redis: client, scope, total: 100, name: "Sync" });
  pace.tick(10);
  await pace.flush();

  const viewer = await plain.token([scope]);
  const page = await open(`${plain.url}/#token=${viewer}&scope=${scope}`, scope);
  await row(page, pace.id).locator('[aria-valuenow="10"]').waitFor();
  expect(await row(page, pace.id).locator(".rp-actions").isHidden()).toBe(true);
  expect(await page.locator("button.rp-cancel").count()).toBe(0);
  await page.close();

  const operator = await plain.token([scope], { cancel: [scope] });
  const allowed = await open(`${plain.url}/#token=${operator}&scope=${scope}`, scope);
  await row(allowed, pace.id).locator("button.rp-cancel").waitFor();
  await allowed.close();
  await pace.finish();
});

test("children are nested under their parent, collapsed, with counts; the parent's bar is their weighted aggregate", async () => {
  const scope = "user:nest";
  const parent = await RedisProgress.start({
    redis: client,
    scope,
    total: 3,
    name: "Transcode videos",
    completeWithChildren: true,
    interval: 20,
  });
  const intro = parent.child({ total: 10, name: "intro.mp4" });
  const talk = parent.child({ total: 10, weight: 2, name: "talk.mp4" });
  const outro = parent.child({ total: 10, name: "outro.mp4" });
  await Promise.all([intro.ready, talk.ready, outro.ready]);
  intro.tick(10);
  await intro.finish();
  talk.tick(5);
  await talk.flush();

  const page = await open(`${demo.url}/#scope=${scope}`, scope);
  const top = page.locator(".rp-list > .rp-job");
  await row(page, parent.id)
    .locator(":scope > .rp-meta > .rp-toggle", { hasText: "1 of 3 done" })
    .waitFor();
  expect(await top.count()).toBe(1); // children are not top-level rows
  const toggle = row(page, parent.id).locator(":scope > .rp-meta > .rp-toggle");
  expect(await toggle.getAttribute("aria-expanded")).toBe("false");
  const nested = row(page, parent.id).locator(":scope > .rp-children > .rp-job");
  expect(await nested.count()).toBe(3);
  expect(await row(page, parent.id).locator(":scope > .rp-children").isHidden()).toBe(true);
  // (1·1 + 2·0.5 + 1·0) / 4 = 50%
  await row(page, parent.id).locator(':scope > .rp-bar[aria-valuenow="50"]').waitFor();

  await toggle.click();
  expect(await toggle.getAttribute("aria-expanded")).toBe("true");
  await row(page, intro.id).locator('.rp-state:text-is("Completed")').waitFor();
  expect(await row(page, talk.id).isVisible()).toBe(true);
  await screenshot(page, "dashboard-children");

  await outro.fail(new Error("codec missing"));
  await row(page, parent.id)
    .locator(":scope > .rp-meta > .rp-toggle", { hasText: "2 of 3 done · 1 failed" })
    .waitFor();
  talk.tick(5);
  await talk.finish();
  // The last child ends: the parent fails with them (it completes with its children).
  await row(page, parent.id)
    .locator(":scope > .rp-error", { hasText: "1 of 3 children failed" })
    .waitFor();
  expect(await row(page, parent.id).getAttribute("data-status")).toBe("failed");
  await waitFor(
    async () =>
      (await row(page, parent.id).locator(":scope > .rp-meta > .rp-toggle").textContent()) ===
      "3 of 3 done · 1 failed",
    { what: "the final counts" },
  );
  await page.close();
  await parent.finish();
});
