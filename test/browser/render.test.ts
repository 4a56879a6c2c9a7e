/**
 * mountProgress in headless Chromium, on a bare page with the bundle and a
 * stand-in client that the test drives (the jobs it pushes, the answer a
 * cancel gets): states a real gateway reaches only by timing or by failure,
 * such as a nested tree of every status, a reorder under a keyboard user's
 * focus, or each way a cancel can be refused.
 */
import type { Page } from "playwright-core";
import type { JobMap, JobValue } from "../../shared/job";
import { BUNDLE_PATH, buildBundle, launchBrowser, type TestBrowser } from "../helpers/browser";
import { job } from "../helpers/jobs";

let browser: TestBrowser;

beforeAll(async () => {
  await buildBundle();
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(() => {
  expect(browser?.problems.splice(0)).toEqual([]);
});

/** What the page's stand-in client exposes to the test (see installStandIn). */
interface StandIn {
  /** Replaces the scope's jobs and tells the listeners, as a snapshot would. */
  push(jobs: JobMap): void;
  /** What canCancel answers. */
  may: boolean;
  /** What cancel does: resolve, reject, or throw. */
  cancelWith: (id: string) => Promise<unknown>;
}

/** The page's globals the tests use (cast from `window` inside page functions). */
interface PageWindow {
  standIn: StandIn;
  RedisProgressClient: typeof import("../../client/index");
}

/** Runs in the page: a stand-in for ProgressClient with only what mountProgress calls. */
function installStandIn(): void {
  const listeners = new Set<(jobs: JobMap) => void>();
  let jobs: JobMap = {};
  const standIn = {
    state: "connected",
    may: false,
    cancelWith: (() => Promise.resolve(undefined)) as StandIn["cancelWith"],
    now: () => Date.now(),
    loaded: () => true,
    jobs: () => jobs,
    scopeError: () => undefined,
    canCancel: () => standIn.may,
    cancel: (_scope: string, id: string) => standIn.cancelWith(id),
    on: () => () => {},
    subscribe(_scope: string, listener: (jobs: JobMap) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    push(next: JobMap) {
      jobs = next;
      for (const listener of listeners) listener(next);
    },
  };
  const w = window as unknown as PageWindow;
  w.standIn = standIn;
  w.RedisProgressClient.mountProgress(document.getElementById("host") as Element, {
    client: standIn as never,
    scope: "user:1",
  });
}

/** A page with the bundle and a list mounted on the stand-in client. */
async function mounted(): Promise<Page> {
  const page = await browser.page();
  await page.setContent(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body><div id="host"></div></body></html>`,
  );
  await page.addScriptTag({ path: BUNDLE_PATH });
  await page.evaluate(installStandIn);
  return page;
}

function push(page: Page, jobs: JobMap): Promise<void> {
  return page.evaluate(
    (json) => (window as unknown as PageWindow).standIn.push(JSON.parse(json) as JobMap),
    JSON.stringify(jobs),
  );
}

/** Jobs keyed by id. */
function mapOf(...values: JobValue[]): JobMap {
  return Object.fromEntries(values.map((value) => [value.id, value]));
}

const STATUSES = ["running", "completed", "failed", "canceled", "stalled"] as const;
type Shown = (typeof STATUSES)[number];

/** A job the row shows with status `shown` (stalled: a running job with `stalled`). */
function shownAs(id: string, shown: Shown, extra: Partial<JobValue> = {}): JobValue {
  const now = new Date().toISOString();
  const ended = shown !== "running" && shown !== "stalled";
  return job(id, 1, {
    percent: 40,
    count: 40,
    status: shown === "stalled" ? "running" : shown,
    stalled: shown === "stalled" ? true : undefined,
    started_at: now,
    updated_at: now,
    finished_at: ended ? now : null,
    ...extra,
  });
}

test("a child row has its own status's colours, not its parent's", async () => {
  const page = await mounted();
  // A top-level row of each status (the reference), and under a parent of each
  // status that is not running, a child of each status.
  const jobs: JobValue[] = STATUSES.map((status) => shownAs(`top-${status}`, status));
  for (const parent of STATUSES.filter((status) => status !== "running")) {
    jobs.push(shownAs(`parent-${parent}`, parent));
    for (const child of STATUSES) {
      jobs.push(shownAs(`${parent}-${child}`, child, { parent: `parent-${parent}` }));
    }
  }
  await push(page, mapOf(...jobs));
  for (const toggle of await page.locator(".rp-list > .rp-job > .rp-meta > .rp-toggle").all()) {
    await toggle.click();
  }
  await page.locator(".rp-children:not([hidden]) > .rp-job").first().waitFor();

  /** The colours that tell a row's status, by job id. */
  const colours = await page.evaluate(() => {
    const out: Record<string, string> = {};
    for (const row of document.querySelectorAll<HTMLElement>(".rp-job")) {
      const fill = row.querySelector(":scope > .rp-bar > .rp-fill") as Element;
      const state = row.querySelector(":scope > .rp-head > .rp-state") as Element;
      out[row.dataset.jobId as string] = [
        getComputedStyle(fill).backgroundColor,
        getComputedStyle(state).color,
        getComputedStyle(state).backgroundColor,
      ].join(" / ");
    }
    return out;
  });
  // The statuses look different from one another, so equal colours below mean the right status.
  expect(new Set(STATUSES.map((status) => colours[`top-${status}`])).size).toBe(STATUSES.length);
  for (const parent of STATUSES.filter((status) => status !== "running")) {
    for (const child of STATUSES) {
      expect({ id: `${parent}-${child}`, colours: colours[`${parent}-${child}`] }).toEqual({
        id: `${parent}-${child}`,
        colours: colours[`top-${child}`],
      });
    }
  }
  await page.close();
});

test("a job that finishes and moves does not take the focus from another row's button", async () => {
  const page = await mounted();
  await page.evaluate(() => ((window as unknown as PageWindow).standIn.may = true));
  const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString();
  // Running jobs are listed newest started first: a, b, c.
  const a = shownAs("a", "running", { name: "A", started_at: at(10) });
  const b = shownAs("b", "running", { name: "B", started_at: at(20) });
  const c = shownAs("c", "running", { name: "C", started_at: at(30) });
  await push(page, mapOf(a, b, c));
  const order = () =>
    page
      .locator(".rp-list > .rp-job")
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.jobId));
  expect(await order()).toEqual(["a", "b", "c"]);
  const button = page.locator('.rp-job[data-job-id="c"] .rp-cancel');
  await button.focus();
  const focused = () =>
    button.evaluate((element) => document.activeElement === element && element.isConnected);
  expect(await focused()).toBe(true);

  // a finishes: it moves below the running b and c.
  const finished = shownAs("a", "completed", { name: "A", started_at: at(10), seq: 2 });
  await push(page, mapOf(finished, b, c));
  expect(await order()).toEqual(["b", "c", "a"]);
  expect(await focused()).toBe(true);

  // A new job starts: it goes on top, and c keeps the focus again.
  await push(
    page,
    mapOf(finished, b, c, shownAs("d", "running", { name: "D", started_at: at(1) })),
  );
  expect(await order()).toEqual(["d", "b", "c", "a"]);
  expect(await focused()).toBe(true);
  await page.keyboard.press("Enter");
  await page
    .locator('.rp-job[data-job-id="c"] .rp-state', { hasText: "cancel requested" })
    .waitFor();
  await page.close();
});

test("a refused cancel says why in the labels' words, whatever the error's code", async () => {
  const page = await mounted();
  await page.evaluate(() => ((window as unknown as PageWindow).standIn.may = true));
  await push(page, mapOf(shownAs("x", "running", { name: "Reindex" })));
  const row = page.locator('.rp-job[data-job-id="x"]');
  const cases: [string, string][] = [
    ["unavailable", "the progress service did not answer; try again."],
    ["rate_limited", "too many requests; try again shortly."],
    ["forbidden", "your token does not allow cancelling this job."],
    ["not_found", "the job no longer exists."],
    ["conflict", "the job has already ended."],
  ];
  for (const [code, words] of cases) {
    await page.evaluate((c) => {
      const { standIn, RedisProgressClient: RP } = window as unknown as PageWindow;
      standIn.cancelWith = (id) =>
        Promise.reject(
          new RP.ProgressClientError(c as never, `Cannot cancel ${id} in user:1: not connected`),
        );
    }, code);
    await row.locator("button.rp-cancel").click();
    // The click made it "Cancelling…"; the refusal shows its words, then "Cancel" again.
    await row.locator('button.rp-cancel:text-is("Cancel")').waitFor({ timeout: 5000 });
    expect(await row.locator(".rp-action-error").textContent()).toBe(`Could not cancel: ${words}`);
  }

  // A cancel that throws before sending anything (an id the client refuses) is
  // refused the same way, and the button comes back.
  await page.evaluate(() => {
    (window as unknown as PageWindow).standIn.cancelWith = () => {
      throw Object.assign(new Error("Expected a job id matching …"), { code: "invalid_argument" });
    };
  });
  await row.locator("button.rp-cancel").click();
  await row
    .locator('button.rp-cancel:not([disabled]):text-is("Cancel")')
    .waitFor({ timeout: 5000 });
  expect(await row.locator(".rp-action-error").textContent()).toBe(
    "Could not cancel: the request was invalid.",
  );
  await page.close();
});
