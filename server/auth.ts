/**
 * Token verification (DESIGN.md, "Tokens"): JWT, HS256 only, `exp` required,
 * `scopes` an array of grants (exact scope or `prefix:*`), `sub` optional, and
 * `cancel` (same grammar as `scopes`) kept for the cancel command.
 */
import { errors, jwtVerify, type JWTPayload } from "jose";
import { isValidGrant } from "../shared/grants";
import { UnauthorizedError } from "./errors/unauthorized-error";

/** What a verified token grants. */
export interface TokenClaims {
  /** Grants for `subscribe` and `/api/jobs`. */
  readonly scopes: readonly string[];
  /** Grants for `cancel` (empty when the claim is absent). */
  readonly cancel: readonly string[];
  readonly sub: string | undefined;
  /** Expiry, in ms since the epoch. */
  readonly expiresAt: number;
}

/** A JWT is three base64url parts; anything else is refused before it reaches jose. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/**
 * Far above any real token; bounds the work an attacker can make us do.
 * `signScopeToken` refuses to mint a longer one, and the default
 * `maxHttpBufferSize` carries one in a CONNECT packet.
 */
export const MAX_TOKEN_LENGTH = 8192;
/** Grants per claim: a token is not a database. */
export const MAX_GRANTS = 256;

function grantsOf(payload: JWTPayload, claim: "scopes" | "cancel", required: boolean): string[] {
  const value = payload[claim];
  if (value === undefined && !required) return [];
  if (!Array.isArray(value) || value.length > MAX_GRANTS) {
    throw new UnauthorizedError(
      `Claim \`${claim}\` must be an array of at most ${MAX_GRANTS} grants`,
    );
  }
  for (const grant of value) {
    if (!isValidGrant(grant)) {
      throw new UnauthorizedError(`Claim \`${claim}\` holds an invalid grant`);
    }
  }
  return value as string[];
}

/** Turns a secret into the HS256 key bytes. */
export function secretKey(secret: string | Uint8Array): Uint8Array {
  return typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
}

/**
 * Verifies a token and returns its claims.
 * @throws UnauthorizedError whose message says what is wrong (never the token itself).
 */
export async function verifyToken(
  token: unknown,
  key: Uint8Array,
  clockTolerance: number,
): Promise<TokenClaims> {
  if (typeof token !== "string" || token.length === 0) {
    throw new UnauthorizedError("No token");
  }
  if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) {
    throw new UnauthorizedError("Malformed token");
  }
  let payload: JWTPayload;
  try {
    // Pinning the algorithm rules out `alg: none` and RS/HS confusion.
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      requiredClaims: ["exp"],
      clockTolerance,
    }));
  } catch (error) {
    const reason =
      error instanceof errors.JWTExpired
        ? "Token expired"
        : error instanceof errors.JWSSignatureVerificationFailed
          ? "Bad token signature"
          : error instanceof errors.JOSEAlgNotAllowed
            ? "Token algorithm not allowed"
            : "Invalid token";
    throw new UnauthorizedError(reason, { cause: error });
  }
  const scopes = grantsOf(payload, "scopes", true);
  const cancel = grantsOf(payload, "cancel", false);
  if (payload.sub !== undefined && (typeof payload.sub !== "string" || payload.sub.length > 256)) {
    throw new UnauthorizedError("Claim `sub` must be a string of at most 256 characters");
  }
  return { scopes, cancel, sub: payload.sub, expiresAt: (payload.exp as number) * 1000 };
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
