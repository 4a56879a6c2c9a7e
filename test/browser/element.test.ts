/**
 * <redis-progress-jobs> on a bare page that loads only /redis-progress.js, in
 * headless Chromium against the real gateway and Redis; and the bars' motion:
 * smooth at the job's rate between updates, never past the next expected
 * value, none under prefers-reduced-motion or while the tab is hidden.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Redis } from "ioredis";
import type { Page } from "playwright-core";
import { barFraction, motionHorizon, trueFraction } from "../../client/render/motion";
import type { JobValue } from "../../shared/job";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { TestGateway, waitFor } from "../helpers/gateway";
import { buildBundle, launchBrowser, type TestBrowser } from "../helpers/browser";

const INTERVAL = 1500; // the element's `interval` attribute: how long a bar may extrapolate

let gateway: TestGateway;
let client: Redis;
let browser: TestBrowser;
let token: string;
/** The application's own site, another origin than the gateway's (as in most deployments). */
let site: Server;
let siteUrl: string;
let sitePage = "";

beforeAll(async () => {
  await buildBundle();
  site = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(sitePage);
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  gateway = await TestGateway.start({ gateway: { allowedOrigins: [siteUrl] } });
  client = gateway.redis.client();
  token = await gateway.token(["user:*"]);
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await new Promise((resolve) => site?.close(resolve));
});

afterEach(() => {
  expect(browser?.problems.splice(0)).toEqual([]);
});

/**
 * Opens a bare page on the site: `body`, then one script tag (the gateway's
 * bundle) at the end, so the elements are upgraded as they would be on a page
 * that loads the script last. Records requests and the subscribes sent.
 */
async function bare(
  body: string,
): Promise<{ page: Page; requests: string[]; subscribes: string[] }> {
  sitePage = `<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body>${body}<script src="${gateway.url}/redis-progress.js"></script></body></html>`;
  const page = await browser.page();
  const requests: string[] = [];
  const subscribes: string[] = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    requests.push(`${url.origin === siteUrl ? "site" : "gateway"}${url.pathname}`);
  });
  page.on("websocket", (ws) => {
    subscribes.push("(connect)");
    ws.on("framesent", ({ payload }) => {
      const match = /^\d+\["subscribe",\{"scope":"([^"]+)"\}\]$/.exec(String(payload));
      if (match) subscribes.push(match[1] as string);
    });
  });
  await page.goto(`${siteUrl}/bare.html`);
  return { page, requests, subscribes };
}

async function stored(scope: string, id: string): Promise<JobValue> {
  const raw = await client.hget(`resque:pace:${scope}`, id);
  if (raw === null) throw new Error(`job ${id} is not stored`);
  return JSON.parse(raw) as JobValue;
}

test("the custom element works on a bare page with only the bundle: token attribute or default client", async () => {
  const { page, requests, subscribes } = await bare(`
    <redis-progress-jobs id="a" scope="user:bare" url="${gateway.url}" token="${token}"></redis-progress-jobs>
    <redis-progress-jobs id="b" scope="user:bare"></redis-progress-jobs>
    <redis-progress-jobs id="c" scope="user:*" url="${gateway.url}" token="${token}"></redis-progress-jobs>`);
  const api = await page.evaluate(() =>
    Object.keys((window as unknown as { RedisProgressClient: object }).RedisProgressClient).sort(),
  );
  expect(api).toEqual(
    expect.arrayContaining([
      "createProgressClient",
      "defineProgressElement",
      "mountProgress",
      "setDefaultClient",
    ]),
  );
  await page.locator("#a .rp-empty", { hasText: "No jobs in user:bare yet." }).waitFor();
  await expect(page.locator("#b .rp-banner").textContent()).resolves.toContain("setDefaultClient");
  await expect(page.locator("#c .rp-banner").textContent()).resolves.toBe(
    "“user:*” is not a valid scope.",
  );

  const pace = await RedisProgress.start({
    redis: client,
    scope: "user:bare",
    total: 8,
    name: "Generate reports",
  });
  pace.tick(2);
  await pace.flush();
  await page.locator(`#a .rp-job[data-job-id="${pace.id}"] [aria-valuenow="25"]`).waitFor();

  await page.evaluate(
    ([url, t]) => {
      const RP = (window as unknown as { RedisProgressClient: typeof import("../../client/index") })
        .RedisProgressClient;
      RP.setDefaultClient(RP.createProgressClient({ url, token: t }));
    },
    [gateway.url, token] as const,
  );
  const row = page.locator(`#b .rp-job[data-job-id="${pace.id}"]`);
  await row.locator('[aria-valuenow="25"]').waitFor();
  await expect(row.locator(".rp-name").textContent()).resolves.toBe("Generate reports");
  await expect(row.locator(".rp-count").textContent()).resolves.toBe("2 / 8");

  await pace.finish();
  await row.locator(".rp-state", { hasText: "Completed" }).waitFor();
  // One WebSocket per client, one subscribe each: the upgrade (attributes, then
  // connected) did not mount once per callback.
  expect(subscribes.filter((s) => s === "(connect)")).toHaveLength(2);
  expect(subscribes.filter((s) => s !== "(connect)")).toEqual(["user:bare", "user:bare"]);
  // Removing the element leaves the scope; the page fetched nothing but the bundle.
  await page.evaluate(() => document.getElementById("b")?.remove());
  expect(requests.filter((p) => !p.startsWith("gateway/socket.io/"))).toEqual([
    "site/bare.html",
    "gateway/redis-progress.js",
  ]);
  await page.close();
});

test("a `client` property set before the element is defined is used once it is", async () => {
  const { page, subscribes } = await bare(
    `<rp-early-jobs id="early" scope="user:early"></rp-early-jobs>`,
  );
  // As an application loading the element lazily does: the property first, the
  // definition later (here under a name of its own, the bundle defined the default one).
  await page.evaluate(
    ([url, t]) => {
      const RP = (window as unknown as { RedisProgressClient: typeof import("../../client/index") })
        .RedisProgressClient;
      const element = document.getElementById("early") as HTMLElement & {
        client?: unknown;
        labels?: unknown;
      };
      element.client = RP.createProgressClient({ url, token: t });
      element.labels = { empty: "Noch keine Jobs in {scope}." };
      RP.defineProgressElement("rp-early-jobs");
    },
    [gateway.url, token] as const,
  );
  await page.locator("#early .rp-empty", { hasText: "Noch keine Jobs in user:early." }).waitFor();
  const pace = await RedisProgress.start({ redis: client, scope: "user:early", total: 4 });
  pace.tick(1);
  await pace.flush();
  await page.locator(`#early .rp-job[data-job-id="${pace.id}"] [aria-valuenow="25"]`).waitFor();
  expect(subscribes).toEqual(["(connect)", "user:early"]);
  // The properties now go through the element's accessors.
  expect(
    await page.evaluate(() =>
      ["client", "labels"].some((name) =>
        Object.hasOwn(document.getElementById("early") as object, name),
      ),
    ),
  ).toBe(false);
  await pace.finish();
  await page.close();
});

test("lang formats numbers and times only with labels: never English sentences with German words", async () => {
  const scope = "user:lang";
  // Times near the early end of their words' ranges ("about 3 minutes left" from
  // 210 s down to 150 s, "3 minutes ago" from 150 s up to 210 s): the texts hold
  // for about a minute after `now`, however slow the page is to open.
  const now = Date.now();
  const iso = (offset: number) => new Date(now + offset).toISOString();
  const jobs = {
    run: {
      percent: 42,
      count: 1260,
      total: 3000,
      status: "running",
      name: "Reindex search",
      started_at: iso(-400_000),
      updated_at: iso(0),
      estimated_finished_at: iso(205_000),
      finished_at: null,
      heartbeat: 30_000,
      seq: 40,
    },
    done: {
      percent: 100,
      count: 820,
      total: 820,
      status: "completed",
      name: "Export invoices",
      started_at: iso(-600_000),
      updated_at: iso(-155_000),
      estimated_finished_at: iso(-155_000),
      finished_at: iso(-155_000),
      heartbeat: 30_000,
      seq: 30,
    },
  };
  for (const [id, value] of Object.entries(jobs)) {
    await client.hset(`resque:pace:${scope}`, id, JSON.stringify({ id, ...value }));
  }
  const { page } = await bare(
    `<redis-progress-jobs id="de" lang="de" scope="${scope}" url="${gateway.url}" token="${token}"></redis-progress-jobs>`,
  );
  const run = page.locator('#de .rp-job[data-job-id="run"]');
  const done = page.locator('#de .rp-job[data-job-id="done"]');
  /** The words of both rows: state, count and time of each. */
  const words = async () => {
    const texts: string[] = [];
    for (const row of [run, done]) {
      for (const part of [".rp-state", ".rp-count", ".rp-time"]) {
        texts.push((await row.locator(part).textContent()) ?? "");
      }
    }
    return texts;
  };
  await run.waitFor();
  // No labels: English throughout, although the element says lang="de".
  expect(await words()).toEqual([
    "Running",
    "1,260 / 3,000",
    "about 3 minutes left",
    "Completed",
    "820 / 820",
    "finished 3 minutes ago",
  ]);

  await page.evaluate(() => {
    const element = document.getElementById("de") as HTMLElement & { labels?: unknown };
    element.labels = {
      running: "Läuft",
      completed: "Fertig",
      timeLeft: "noch etwa {time}",
      finished: "fertig {ago}",
    };
  });
  await run.locator(".rp-state", { hasText: "Läuft" }).waitFor();
  expect(await words()).toEqual([
    "Läuft",
    "1.260 / 3.000",
    "noch etwa 3 Minuten",
    "Fertig",
    "820 / 820",
    "fertig vor 3 Minuten",
  ]);
  await page.close();
});

test("bars move at the rate until the next expected write, and not under reduced motion or while hidden", async () => {
  const scope = "user:motion";
  const { page } = await bare(
    `<redis-progress-jobs scope="${scope}" url="${gateway.url}" token="${token}" interval="${INTERVAL}"></redis-progress-jobs>`,
  );
  await page.locator(".rp-empty").waitFor();
  const pace = await RedisProgress.start({ redis: client, scope, total: 20_000, interval: 40 });
  const bar = `.rp-job[data-job-id="${pace.id}"] .rp-bar`;
  const fraction = () =>
    page.evaluate(
      (selector) =>
        Number(
          document.querySelector<HTMLElement>(selector)?.style.getPropertyValue("--rp-fraction"),
        ),
      bar,
    );
  /** Fractions the bar shows over the next `ms`, one per animation frame. */
  const sample = (ms: number) =>
    page.evaluate(
      ([selector, duration]) =>
        new Promise<number[]>((resolve) => {
          const values: number[] = [];
          const end = performance.now() + duration;
          const frame = () => {
            const el = document.querySelector<HTMLElement>(selector);
            values.push(Number(el?.style.getPropertyValue("--rp-fraction")));
            if (performance.now() < end) requestAnimationFrame(frame);
            else resolve(values);
          };
          requestAnimationFrame(frame);
        }),
      [bar, ms] as const,
    );
  /** Works for a while (so the job has a rate), stops, and waits until the page shows the last write. */
  const work = async (steps: number): Promise<JobValue> => {
    for (let i = 0; i < steps; i++) {
      pace.tick(25);
      await new Promise((resolve) => setTimeout(resolve, 20)); // the simulated work
    }
    await pace.flush();
    const job = await stored(scope, pace.id);
    const count = `${new Intl.NumberFormat("en").format(job.count)} /`;
    // Checked on every animation frame (a locator's waitFor polls every 500 ms
    // after its first few tries), so the bar's motion is sampled from its start.
    await page.waitForFunction(
      ([id, text]) =>
        document
          .querySelector(`.rp-job[data-job-id="${id}"] .rp-count`)
          ?.textContent?.includes(text) === true,
      [pace.id, count] as const,
    );
    return job;
  };
  const round = (x: number) => Math.round(x * 10_000) / 10_000;

  // Smooth motion, held at what the rate predicts for the next expected write.
  const job = await work(40);
  expect(job.rate).toBeGreaterThan(0);
  const truth = round(trueFraction(job));
  const end = round(barFraction(job, Infinity, INTERVAL));
  expect(end).toBeGreaterThan(truth);
  // The count text changes with the update at once, the bar on the next animation
  // frame (a snap back to the truth when the rate had run ahead): start after it.
  await page.evaluate(
    () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))),
  );
  const values = await sample(motionHorizon(job, INTERVAL) + 400);
  expect(values).toEqual([...values].sort((a, b) => a - b)); // only forwards
  expect(new Set(values).size).toBeGreaterThan(10); // many small steps, not one jump
  expect(Math.min(...values)).toBeGreaterThanOrEqual(truth);
  expect(Math.max(...values)).toBeLessThanOrEqual(end);
  expect(values.at(-1)).toBeCloseTo(end, 3); // waiting at the expected value

  // prefers-reduced-motion: the bar shows the stored truth, and only moves on updates.
  await page.emulateMedia({ reducedMotion: "reduce" });
  await waitFor(async () => (await fraction()) === truth, { what: "a snap to the truth" });
  const still = await work(10);
  const stillTruth = round(trueFraction(still));
  await waitFor(async () => (await fraction()) === stillTruth, { what: "the new truth" });
  expect(new Set(await sample(400))).toEqual(new Set([stillTruth]));

  // A hidden tab: no animation (and the bar rests on the truth).
  await page.emulateMedia({ reducedMotion: "no-preference" });
  const moving = await work(10);
  const movingTruth = round(trueFraction(moving));
  await waitFor(async () => (await fraction()) > movingTruth, { what: "motion to resume" });
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  expect(await fraction()).toBe(movingTruth);
  expect(new Set(await sample(400))).toEqual(new Set([movingTruth]));

  await pace.finish();
  await page.locator(`${bar}[aria-valuenow="100"]`).waitFor();
  expect(await fraction()).toBe(1);
  await page.close();
});
