/**
 * Demo mode: simulated workers that use the real tracker, and a token
 * endpoint for the dashboard that answers only loopback clients.
 *
 * `GET /demo/token` → `{ token, scopes, expires_at, demo_scopes, interval,
 * socket_path }`: a short-lived token granting every demo scope's first part
 * (`user:*` by default; a one-part scope exactly), and what the dashboard needs to show the demo: the
 * scopes the workers write to, their write interval, and where Socket.IO is.
 * It is mounted only in demo mode, and refuses (403) a client that is not on
 * loopback, a Host header that is not a loopback name (DNS rebinding), or a
 * foreign Origin.
 */
import type { Request, Response, Router } from "express";
import type { BaseLogger } from "pino";
import { formatScope } from "../shared/scope";
import { RedisProgress } from "../shared/tracker/redis-progress";
import type { RedisClient } from "../shared/tracker/scripts";
import { InvalidArgumentError } from "../shared/errors/invalid-argument-error";
import { DEFAULTS, type DemoOptions } from "./options";
import type { OriginPolicy } from "./origin";

interface Profile {
  /** Jobs running at once in the scope. */
  slots: number;
  /** Range of `total`. */
  size: [number, number];
  /** Items per step and ms between steps (ranges). */
  step: [number, number];
  delay: [number, number];
  /** Chance that a job fails part-way. */
  failRate: number;
}

/** One profile per demo scope, by position: fast and small, medium, slow and big. */
const PROFILES: readonly Profile[] = [
  { slots: 3, size: [40, 150], step: [1, 2], delay: [40, 120], failRate: 0.15 },
  { slots: 2, size: [500, 2000], step: [5, 20], delay: [60, 150], failRate: 0.2 },
  { slots: 1, size: [5000, 20000], step: [20, 60], delay: [80, 160], failRate: 0.1 },
];

const NAMES = [
  "Import contacts",
  "Resize photos",
  "Export invoices",
  "Send newsletter",
  "Reindex search",
  "Sync calendar",
  "Generate reports",
  "Transcode videos",
];

function between([low, high]: [number, number]): number {
  return low + Math.floor(Math.random() * (high - low + 1));
}

/** Demo options with defaults filled in; throws naming a bad value. */
export function resolveDemoOptions(options: DemoOptions): Required<DemoOptions> {
  const resolved = {
    scopes: options.scopes ?? DEFAULTS.demo.scopes,
    interval: options.interval ?? DEFAULTS.demo.interval,
    tokenTtl: options.tokenTtl ?? DEFAULTS.demo.tokenTtl,
  };
  if (!Array.isArray(resolved.scopes) || resolved.scopes.length === 0) {
    throw new InvalidArgumentError("Expected `demo.scopes` to be a non-empty array of scopes");
  }
  resolved.scopes = resolved.scopes.map((scope) => formatScope(scope));
  for (const name of ["interval", "tokenTtl"] as const) {
    const value = resolved[name];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidArgumentError(
        `Expected \`demo.${name}\` to be a positive integer, got ${String(value)}`,
      );
    }
  }
  return resolved;
}

export interface DemoWorkersOptions extends Required<DemoOptions> {
  redis: RedisClient;
  prefix: string;
  logger: BaseLogger;
}

/** Keeps simulated jobs running in the demo scopes until stop(). */
export class DemoWorkers {
  readonly #options: DemoWorkersOptions;
  readonly #sleeps = new Map<NodeJS.Timeout, () => void>();
  readonly #loops: Promise<void>[] = [];
  #stopped = false;

  /** @param options validated with resolveDemoOptions. */
  constructor(options: DemoWorkersOptions) {
    this.#options = options;
  }

  start(): void {
    this.#options.scopes.forEach((scope, index) => {
      const profile = PROFILES[index % PROFILES.length] as Profile;
      for (let slot = 0; slot < profile.slots; slot++) {
        this.#loops.push(this.#loop(scope, profile, slot));
      }
    });
  }

  /** Stops starting and ticking jobs; jobs left running will show as stalled later. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const [timer, wake] of this.#sleeps) {
      clearTimeout(timer);
      wake();
    }
    this.#sleeps.clear();
    // A loop may be waiting on a write; do not let a slow Redis hold up shutdown.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(this.#loops),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 2000);
      }),
    ]);
    clearTimeout(timer);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleeps.delete(timer);
        resolve();
      }, ms);
      this.#sleeps.set(timer, resolve);
    });
  }

  async #loop(scope: string, profile: Profile, slot: number): Promise<void> {
    // Stagger the start so the slots do not move in lockstep.
    await this.#sleep(slot * 700 + Math.random() * 500);
    while (!this.#stopped) {
      try {
        await this.#job(scope, profile);
      } catch (error) {
        this.#options.logger.debug({ err: error, scope }, "demo job ended with an error");
      }
      await this.#sleep(between([1000, 4000]));
    }
  }

  async #job(scope: string, profile: Profile): Promise<void> {
    const total = between(profile.size);
    const failAt =
      Math.random() < profile.failRate ? Math.floor(total * (0.3 + Math.random() * 0.6)) : -1;
    const pace = new RedisProgress({
      redis: this.#options.redis,
      prefix: this.#options.prefix,
      scope,
      total,
      name: NAMES[Math.floor(Math.random() * NAMES.length)] as string,
      meta: { demo: true },
      interval: this.#options.interval,
      heartbeat: 10_000,
      // Finished demo jobs linger ten minutes, so the scopes stay small.
      retention: 600_000,
    });
    pace.on("error", (error) =>
      this.#options.logger.debug({ err: error, scope }, "demo write failed"),
    );
    await pace.ready;
    let done = 0;
    while (done < total && !this.#stopped) {
      await this.#sleep(between(profile.delay));
      // Cancelled from the dashboard: stop here, as a real worker would.
      if (pace.signal.aborted) {
        await pace.cancel();
        return;
      }
      const n = Math.min(between(profile.step), total - done);
      done += n;
      pace.tick(n);
      if (failAt >= 0 && done >= failAt) {
        await pace.fail(new Error(`Simulated failure at item ${done} of ${total}`));
        return;
      }
    }
    if (!this.#stopped) await pace.finish();
  }
}

const LOOPBACK_ADDRESS = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;
const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i;

/** True for a request from this machine, addressed to a loopback name. */
function isLoopbackRequest(req: Request): boolean {
  const address = req.socket.remoteAddress ?? "";
  const host = req.headers.host ?? "";
  return LOOPBACK_ADDRESS.test(address) && LOOPBACK_HOST.test(host);
}

/**
 * The grants of a demo token: `<first part>:*` for each demo scope of several
 * parts, and the scope itself for a one-part scope, since `reports:*` grants
 * what is below `reports` but not `reports` (shared/grants.ts): the dashboard
 * would be refused the demo's own scope.
 */
function demoGrants(scopes: readonly string[]): string[] {
  return [
    ...new Set(
      scopes.map((scope) => {
        const parts = formatScope(scope).split(":");
        return parts.length === 1 ? (parts[0] as string) : `${parts[0] as string}:*`;
      }),
    ),
  ];
}

/**
 * Socket.IO's `path` relative to the directory the router is mounted at
 * (`base`, express's `req.baseUrl`), where the dashboard is served: the page
 * resolves it against its own URL, so a prefix that a reverse proxy put in
 * front of the gateway is kept. `("/rp/socket.io", "")` → `"rp/socket.io"`,
 * `("/socket.io", "/admin")` → `"../socket.io"`.
 */
export function relativeSocketPath(path: string, base: string): string {
  const directory = `${base.replace(/\/+$/, "")}/`;
  if (path.startsWith(directory)) return path.slice(directory.length) || "./";
  const depth = directory.split("/").filter((part) => part !== "").length;
  return "../".repeat(depth) + path.replace(/^\/+/, "");
}

export interface DemoTokenRouteOptions {
  sign: (scopes: string[], ttl: number) => Promise<string>;
  /** The demo scopes (formatted); the token grants their first parts (see demoGrants). */
  scopes: readonly string[];
  ttl: number;
  origins: OriginPolicy;
  /** The demo trackers' write interval in ms, for the dashboard's motion. */
  interval: number;
  /** Socket.IO's path on this server (the gateway's `path` option). */
  path: string;
}

/** Mounts `GET /demo/token`. */
export function demoTokenRoute(router: Router, options: DemoTokenRouteOptions): void {
  const grants = demoGrants(options.scopes);
  router.get("/demo/token", async (req: Request, res: Response) => {
    res.setHeader("Cache-Control", "no-store");
    if (!isLoopbackRequest(req) || !options.origins.allows(req)) {
      res.status(403).json({
        error: {
          code: "forbidden",
          message: "The demo token endpoint answers loopback clients only",
        },
      });
      return;
    }
    const token = await options.sign(grants, options.ttl);
    res.json({
      token,
      scopes: grants,
      expires_at: new Date(Date.now() + options.ttl * 1000).toISOString(),
      // Added fields: `scopes` above are the token's grants (`user:*`); the page
      // needs the scopes that have jobs, and cannot guess a non-default path.
      demo_scopes: options.scopes,
      interval: options.interval,
      socket_path: relativeSocketPath(options.path, req.baseUrl),
    });
  });
}
