/**
 * The gateway's HTTP routes (DESIGN.md, "HTTP"): health, metrics, the jobs
 * API, the dashboard page, the browser bundle and static files.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import type { BaseLogger } from "pino";
import { formatScope } from "../shared/scope";
import { grantsAllow } from "../shared/grants";
import type { JobMap } from "../shared/job";
import type { TokenClaims } from "./auth";
import { claimsOr401 } from "./bearer";
import type { OriginPolicy } from "./origin";

/** What the routes need from the gateway. */
export interface HttpDeps {
  healthy: () => Promise<boolean>;
  metrics: () => Promise<{ contentType: string; body: string }>;
  verify: (token: unknown) => Promise<TokenClaims>;
  /** A validated scope's jobs, `stalled` marked; rejects when Redis does not answer. */
  jobs: (scope: string) => Promise<JobMap>;
  origins: OriginPolicy;
  logger: BaseLogger;
  /** Extra routes (the demo's token endpoint). */
  extra?: (router: Router) => void;
}

/** `server/public/` here, and `dist/server/public/` once built (the build copies it). */
const PUBLIC_DIR = join(__dirname, "public");

/** The browser bundle: beside `dist/server` once built, or in `dist/` of a checkout. */
const BUNDLE_CANDIDATES = [
  join(__dirname, "..", "client", "redis-progress.js"),
  join(__dirname, "..", "dist", "client", "redis-progress.js"),
];

function findBundle(): string | undefined {
  return BUNDLE_CANDIDATES.find((path) => existsSync(path));
}

const MINIMAL_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>redis-progress</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto">
<h1>redis-progress gateway</h1>
<p>This gateway streams job progress from Redis over Socket.IO. The dashboard page is not installed here.</p>
<ul><li><a href="/healthz">/healthz</a></li><li><a href="/metrics">/metrics</a></li></ul>
</body></html>
`;

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

export function createRouter(deps: HttpDeps): Router {
  const router = express.Router();

  router.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "no-referrer");
    next();
  });

  router.get("/healthz", async (_req: Request, res: Response) => {
    const ok = await deps.healthy().catch(() => false);
    res.setHeader("Cache-Control", "no-store");
    res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "unavailable" });
  });

  router.get("/metrics", async (_req: Request, res: Response) => {
    const { contentType, body } = await deps.metrics();
    res.setHeader("Content-Type", contentType);
    res.send(body);
  });

  // CORS for /api/jobs, only for the configured origins: it takes a Bearer
  // token, so browsers preflight it.
  router.use("/api/jobs", (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin !== undefined && deps.origins.isListed(origin)) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Vary", "Origin");
      res.setHeader("Access-Control-Allow-Headers", "Authorization");
      res.setHeader("Access-Control-Allow-Methods", "GET, POST");
    }
    if (req.method === "OPTIONS") {
      res.status(204).end();
      return;
    }
    next();
  });

  router.get("/api/jobs", async (req: Request, res: Response) => {
    res.setHeader("Cache-Control", "no-store");
    const claims = await claimsOr401(req, res, deps.verify, deps.logger, "/api/jobs");
    if (claims === undefined) return;
    let scope: string;
    try {
      const raw = req.query.scope;
      if (typeof raw !== "string") throw new Error("Expected one `scope` query parameter");
      scope = formatScope(raw);
    } catch (error) {
      fail(res, 400, "invalid_scope", (error as Error).message);
      return;
    }
    if (!grantsAllow(claims.scopes, scope)) {
      fail(res, 403, "forbidden", `The token does not grant scope "${scope}"`);
      return;
    }
    try {
      res.json({ scope, jobs: await deps.jobs(scope) });
    } catch (error) {
      deps.logger.warn({ err: error, scope }, "/api/jobs: Redis did not answer");
      fail(res, 503, "unavailable", "Redis did not answer; try again");
    }
  });

  deps.extra?.(router);

  router.get("/", (_req: Request, res: Response) => {
    const page = join(PUBLIC_DIR, "index.html");
    if (existsSync(page)) res.sendFile(page);
    else res.type("html").send(MINIMAL_PAGE);
  });

  router.get(["/redis-progress.js", "/redis-progress.js.map"], (req: Request, res: Response) => {
    const bundle = findBundle();
    if (bundle === undefined) {
      res
        .status(404)
        .type("text/plain")
        .send(
          "The browser bundle is not built: run `npm run build` (or `node scripts/build.mjs --client`).\n",
        );
      return;
    }
    const path = req.path.endsWith(".map") ? `${bundle}.map` : bundle;
    if (!existsSync(path)) {
      res.status(404).type("text/plain").send("Not found\n");
      return;
    }
    res.sendFile(path);
  });

  router.use(express.static(PUBLIC_DIR, { index: false, dotfiles: "ignore" }));

  return router;
}
