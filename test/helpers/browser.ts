/**
 * Headless Chromium for browser tests: the system's /usr/bin/chromium driven by
 * playwright-core (never a downloaded browser), a fresh temporary profile per
 * launch, the browser bundle built on demand so `npm test` works on a fresh
 * clone, and screenshots under test-output/ (git-ignored).
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { chromium, type BrowserContext, type Page } from "playwright-core";

const ROOT = join(__dirname, "..", "..");
export const OUTPUT_DIR = join(ROOT, "test-output");
export const BUNDLE_PATH = join(ROOT, "dist", "client", "redis-progress.js");
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let building: Promise<string> | undefined;

/**
 * Builds client/browser.ts into dist/client/redis-progress.js (what the gateway
 * serves at /redis-progress.js), once per test process. Written to a temporary
 * file and renamed, so two suites building at once never serve a torn file.
 */
export function buildBundle(): Promise<string> {
  building ??= (async () => {
    const result = await build({
      entryPoints: [join(ROOT, "client", "browser.ts")],
      bundle: true,
      minify: true,
      format: "iife",
      globalName: "RedisProgressClient",
      target: "es2022",
      write: false,
      logLevel: "warning",
    });
    const code = result.outputFiles[0]?.contents;
    if (code === undefined) throw new Error("esbuild produced no bundle");
    mkdirSync(join(ROOT, "dist", "client"), { recursive: true });
    const temporary = `${BUNDLE_PATH}.${process.pid}.tmp`;
    writeFileSync(temporary, code);
    renameSync(temporary, BUNDLE_PATH);
    return BUNDLE_PATH;
  })();
  return building;
}

export interface TestBrowser {
  readonly context: BrowserContext;
  /** A new page that records page errors, console errors and CSP violations in `problems`. */
  page(): Promise<Page>;
  /** What went wrong in any page so far (uncaught errors, console errors, CSP violations). */
  readonly problems: string[];
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh temporary --user-data-dir. */
export async function launchBrowser(
  options: { reducedMotion?: "reduce" | "no-preference" } = {},
): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "redis-progress-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 800 },
    reducedMotion: options.reducedMotion ?? "no-preference",
  });
  const problems: string[] = [];
  return {
    context,
    problems,
    async page() {
      const page = await context.newPage();
      page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
      page.on("console", (message) => {
        if (message.type() !== "error") return;
        // Expected: a refused WebSocket while a gateway is down (restart tests), and
        // the dashboard's probe of demo/token answered 404 by a gateway not in demo mode.
        if (/ERR_CONNECTION_REFUSED/.test(message.text())) return;
        if (message.location().url.endsWith("/demo/token")) return;
        problems.push(`console: ${message.text()} (${message.location().url})`);
      });
      await page.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (event) => {
          console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
        });
      });
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot to test-output/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const path = join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
