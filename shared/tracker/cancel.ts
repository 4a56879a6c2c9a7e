/**
 * Asking a running job to stop (DESIGN.md, "Control and composition"): the
 * cancel script's return codes, mirrored, and mapped to typed errors here and
 * nowhere else. The gateway's `cancel` event and HTTP endpoint, and
 * `RedisProgress.requestCancel` for Node backends, all go through this file.
 */
import { ConflictError } from "../errors/conflict-error";
import { NotFoundError } from "../errors/not-found-error";
import { scopeKeys, validateJobId, writersKey } from "../keys";
import type { ScopeOptions } from "./options";
import { resolveScope } from "./queries";
import { publishCommand, runScript, type RedisClient } from "./scripts";

/** Return codes of `cancel-3.lua`. */
export enum CancelCode {
  /** Requested now, or already requested before (the first request's time is kept). */
  Requested = 0,
  /** No such job in the scope. */
  NotFound = -1,
  /** The job has already ended. */
  Ended = -2,
}

/** What a successful cancel request returns. */
export interface CancelResult {
  /** The job's seq after the request. */
  seq: number;
  /** When the cancel was (first) requested, ISO-8601 UTC from the Redis server's clock. */
  cancel_requested_at: string;
}

/** Maps the script's reply to a result, or throws NotFoundError / ConflictError. */
function toResult(reply: unknown, scope: string, id: string): CancelResult {
  const [code, a, b] = Array.isArray(reply) ? (reply as unknown[]) : [];
  switch (code) {
    case CancelCode.Requested:
      return { seq: Number(a), cancel_requested_at: String(b) };
    case CancelCode.NotFound:
      throw new NotFoundError(`No job "${id}" in scope "${scope}"`);
    case CancelCode.Ended:
      throw new ConflictError(
        `Job "${id}" in scope "${scope}" has already ended (${String(a)})`,
        String(a),
      );
    default:
      throw new Error(`Unexpected reply from the cancel script: ${JSON.stringify(reply)}`);
  }
}

/**
 * Runs the cancel script for an already validated scope and id.
 * @throws NotFoundError (`not_found`) or ConflictError (`conflict`).
 */
export async function runCancel(
  client: RedisClient,
  prefix: string,
  scope: string,
  id: string,
  cluster: boolean,
): Promise<CancelResult> {
  const keys = scopeKeys(prefix, scope, cluster);
  const reply = await runScript(
    client,
    "cancel",
    [keys.hash, keys.expiry, writersKey(keys, id)],
    [scope, id, publishCommand(cluster)],
  );
  return toResult(reply, scope, id);
}

/**
 * Asks the worker of a running job to stop: stores `cancel_requested_at`; the
 * worker's tracker sees it in the reply to its next write (`pace.signal`
 * aborts, a `"cancel"` event fires). Asking twice is harmless.
 * @throws InvalidScopeError / InvalidArgumentError before any Redis command,
 *   NotFoundError for an unknown job, ConflictError for a job that has ended.
 */
export async function requestCancel(options: ScopeOptions & { id: string }): Promise<CancelResult> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Expected an options object");
  }
  const id = validateJobId(options.id);
  const { conn, scope, prefix } = resolveScope(options);
  try {
    return await runCancel(conn.client, prefix, scope, id, conn.cluster);
  } finally {
    await conn.release();
  }
}
