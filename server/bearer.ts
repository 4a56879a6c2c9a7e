/** The HTTP routes' token check: one place for the Bearer header and its 401 answer. */
import type { Request, Response } from "express";
import type { BaseLogger } from "pino";
import { bearerToken, type TokenClaims } from "./auth";

/**
 * Verifies the request's `Authorization: Bearer <token>`. When the token is
 * missing or refused, answers 401 (the reason goes to the debug log, never the
 * token) and resolves undefined.
 */
export async function claimsOr401(
  req: Request,
  res: Response,
  verify: (token: unknown) => Promise<TokenClaims>,
  logger: BaseLogger,
  route: string,
): Promise<TokenClaims | undefined> {
  try {
    return await verify(bearerToken(req.headers.authorization));
  } catch (error) {
    logger.debug({ reason: (error as Error).message }, `${route}: token refused`);
    res.status(401).json({
      error: {
        code: "unauthorized",
        message: "A valid `Authorization: Bearer <token>` header is required",
      },
    });
    return undefined;
  }
}
