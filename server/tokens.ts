/** Minting tokens for the application's backend (DESIGN.md, "Tokens"). */
import { SignJWT } from "jose";
import { InvalidArgumentError } from "../shared/errors/invalid-argument-error";
import { isValidGrant } from "../shared/grants";
import { MAX_GRANTS, MAX_TOKEN_LENGTH, secretKey } from "./auth";
import { MIN_SECRET_BYTES } from "./options";

export interface SignScopeTokenOptions {
  /** The gateway's secret (PACE_SECRET), at least 32 bytes. */
  secret: string | Uint8Array;
  /** Grants: exact scopes (`user:3421`) or prefixes (`org:7:*`). */
  scopes: readonly string[];
  /** Lifetime in seconds. Keep it short and mint a new token when it runs out. */
  ttl: number;
  /** The user the token is for (shows in the gateway's logs). */
  sub?: string;
  /** Grants for cancelling jobs, same grammar as `scopes`. */
  cancel?: readonly string[];
}

function checkGrants(name: string, grants: unknown, allowEmpty: boolean): string[] {
  if (
    !Array.isArray(grants) ||
    (!allowEmpty && grants.length === 0) ||
    grants.length > MAX_GRANTS
  ) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be an array of 1 to ${MAX_GRANTS} grants, got ${Array.isArray(grants) ? grants.length : typeof grants}`,
    );
  }
  for (const grant of grants) {
    if (!isValidGrant(grant)) {
      throw new InvalidArgumentError(
        `Expected \`${name}\` to hold scopes or \`prefix:*\` grants, got ${JSON.stringify(grant)}`,
      );
    }
  }
  return grants as string[];
}

/** Checks that a secret is long enough to be an HS256 key; returns its bytes. */
export function checkSecret(secret: unknown, name = "secret"): Uint8Array {
  if (typeof secret !== "string" && !(secret instanceof Uint8Array)) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be a string or a Uint8Array`);
  }
  const key = secretKey(secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be at least ${MIN_SECRET_BYTES} bytes, got ${key.length} ` +
        "(generate one with `openssl rand -hex 32`)",
    );
  }
  return key;
}

/**
 * Signs a token for the gateway (HS256) granting `scopes` for `ttl` seconds.
 *
 * ```ts
 * const token = await signScopeToken({ secret, scopes: [`user:${user.id}`], ttl: 3600 });
 * ```
 *
 * @throws InvalidArgumentError for bad options, or when the token would be
 *   longer than the gateway accepts (8192 characters, about 55 grants of 100
 *   characters): grant a prefix (`org:7:*`) rather than many scopes.
 */
export async function signScopeToken(options: SignScopeTokenOptions): Promise<string> {
  const key = checkSecret(options.secret);
  const scopes = checkGrants("scopes", options.scopes, false);
  const cancel =
    options.cancel === undefined ? undefined : checkGrants("cancel", options.cancel, true);
  const { ttl, sub } = options;
  if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new InvalidArgumentError(
      `Expected \`ttl\` to be a positive integer of seconds, got ${String(ttl)}`,
    );
  }
  if (sub !== undefined && (typeof sub !== "string" || sub.length === 0 || sub.length > 256)) {
    throw new InvalidArgumentError("Expected `sub` to be a string of 1 to 256 characters");
  }
  const claims: { scopes: string[]; cancel?: string[] } = { scopes };
  if (cancel !== undefined) claims.cancel = cancel;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttl);
  if (sub !== undefined) jwt.setSubject(sub);
  const token = await jwt.sign(key);
  // The gateway would refuse it as malformed: say so here, where the grants are chosen.
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new InvalidArgumentError(
      `The token would be ${token.length} characters, above the ${MAX_TOKEN_LENGTH} the gateway ` +
        "accepts: grant prefixes (`org:7:*`) instead of many scopes, or fewer `cancel` grants",
    );
  }
  return token;
}
