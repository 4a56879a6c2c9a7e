/**
 * Cancel in the gateway (DESIGN.md, "Control and composition"): the `cancel`
 * Socket.IO event and `POST /api/jobs/cancel?scope=&id=` share one check and
 * one script call.
 *
 * Order of checks, all before any Redis command: scope syntax
 * (`invalid_scope`), job id (`invalid_argument`), the token's `cancel` grants
 * (`forbidden`), the socket's rate bucket (`rate_limited`, shared with
 * subscribes). Then the cancel script answers `not_found` or `conflict`, or
 * Redis does not answer in time (`unavailable`).
 */
import type { NextFunction, Request, Response, Router } from "express";
import type { BaseLogger } from "pino";
import { Counter, type Registry } from "prom-client";
import { RedisProgressError } from "../shared/errors/redis-progress-error";
import { ackError, type AckError, type CancelErrorCode } from "../shared/events";
import { grantsAllow } from "../shared/grants";
import { validateJobId } from "../shared/keys";
import { formatScope } from "../shared/scope";
import { runCancel } from "../shared/tracker/cancel";
import type { RedisClient } from "../shared/tracker/scripts";
import { withTimeout } from "../shared/tracker/timing";
import type { TokenClaims } from "./auth";
import { claimsOr401 } from "./bearer";
import type { Bucket, SubscribeLimits } from "./limits";

export interface CancelServiceOptions {
  redis: RedisClient;
  prefix: string;
  cluster: boolean;
  /** ms the script may take before the answer is `unavailable`. */
  timeout: number;
  limits: SubscribeLimits;
  /** Where `redis_progress_cancels_total{result}` is registered. */
  registry: Registry;
  logger: BaseLogger;
}

/** A successful cancel: the ack of DESIGN.md plus when it was requested. */
type CancelOk = { ok: true; cancel_requested_at: string };
/** Assignable to the event map's CancelAck. */
export type CancelAnswer = CancelOk | AckError<CancelErrorCode>;

/** HTTP status per error code of the cancel endpoint. */
const HTTP_STATUS: Record<CancelErrorCode, number> = {
  invalid_scope: 400,
  invalid_argument: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  unavailable: 503,
};

export class CancelService {
  readonly #o: CancelServiceOptions;
  readonly #results: Counter<"result">;

  constructor(options: CancelServiceOptions) {
    this.#o = options;
    this.#results = new Counter({
      name: "redis_progress_cancels_total",
      help: "cancel requests (Socket.IO and HTTP) by result (ok or the error code)",
      labelNames: ["result"],
      registers: [options.registry],
    });
  }

  /** True when `claims` may cancel jobs of `scope` (a validated scope). */
  static allows(claims: TokenClaims, scope: string): boolean {
    return grantsAllow(claims.cancel, scope);
  }

  /**
   * Checks and runs one cancel request `{ scope, id }` for a token's claims.
   * `bucket` is the socket's rate bucket (HTTP requests have none). Never throws.
   */
  async handle(
    claims: TokenClaims,
    bucket: Bucket | undefined,
    request: unknown,
  ): Promise<CancelAnswer> {
    const answer = await this.#handle(claims, bucket, request);
    this.#results.inc({ result: answer.ok ? "ok" : answer.error.code });
    return answer;
  }

  async #handle(
    claims: TokenClaims,
    bucket: Bucket | undefined,
    request: unknown,
  ): Promise<CancelAnswer> {
    const body = (typeof request === "object" && request !== null ? request : {}) as {
      scope?: unknown;
      id?: unknown;
    };
    let scope: string;
    try {
      if (typeof body.scope !== "string") throw new Error("Expected a request `{ scope, id }`");
      scope = formatScope(body.scope);
    } catch (error) {
      return ackError<CancelErrorCode>("invalid_scope", (error as Error).message);
    }
    let id: string;
    try {
      id = validateJobId(body.id);
    } catch (error) {
      return ackError<CancelErrorCode>("invalid_argument", (error as Error).message);
    }
    if (!CancelService.allows(claims, scope)) {
      return ackError<CancelErrorCode>(
        "forbidden",
        `The token does not grant cancelling in scope "${scope}"`,
      );
    }
    if (bucket !== undefined && !this.#o.limits.take(bucket, Date.now())) {
      return ackError<CancelErrorCode>("rate_limited", "Too many requests; slow down");
    }
    const { redis, prefix, cluster, timeout, logger } = this.#o;
    try {
      const result = await withTimeout(
        runCancel(redis, prefix, scope, id, cluster),
        timeout,
        "A cancel",
        "redisTimeout",
      );
      logger.info({ scope, id, sub: claims.sub }, "cancel requested");
      return { ok: true, cancel_requested_at: result.cancel_requested_at };
    } catch (error) {
      if (error instanceof RedisProgressError) {
        if (error.code === "not_found" || error.code === "conflict") {
          return ackError<CancelErrorCode>(error.code, error.message);
        }
      }
      logger.warn({ err: error, scope, id }, "cancel failed: Redis did not answer");
      return ackError<CancelErrorCode>("unavailable", "Redis did not answer; try again");
    }
  }

  /**
   * Mounts `POST /api/jobs/cancel?scope=<scope>&id=<job id>` with
   * `Authorization: Bearer <token>`: 200 `{ scope, id, cancel_requested_at }`,
   * 400 invalid scope or id, 401 no/bad token, 403 not granted, 404 no such
   * job, 409 the job has ended, 503 Redis did not answer.
   */
  mount(router: Router, verify: (token: unknown) => Promise<TokenClaims>): void {
    router.post("/api/jobs/cancel", (req: Request, res: Response, next: NextFunction) => {
      this.#http(req, res, verify).catch(next);
    });
  }

  async #http(
    req: Request,
    res: Response,
    verify: (token: unknown) => Promise<TokenClaims>,
  ): Promise<void> {
    res.setHeader("Cache-Control", "no-store");
    const claims = await claimsOr401(req, res, verify, this.#o.logger, "/api/jobs/cancel");
    if (claims === undefined) return;
    const { scope, id } = req.query;
    const answer = await this.handle(claims, undefined, { scope, id });
    if (answer.ok) {
      res.json({
        scope: formatScope(scope as string),
        id,
        cancel_requested_at: answer.cancel_requested_at,
      });
    } else {
      res.status(HTTP_STATUS[answer.error.code]).json({ error: answer.error });
    }
  }
}
