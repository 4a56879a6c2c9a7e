/**
 * Token grant matching (DESIGN.md, "Tokens"). Isomorphic.
 *
 * A grant is an exact scope (`user:3421`) or a prefix ending in `:*` that grants
 * every scope below it (`org:7:*` grants `org:7:user:1`, not `org:7` itself and
 * not `org:70`). `*` alone is not a grant: it would be a skeleton key.
 */
import { isValidScope } from "./scope";

/** True when `grant` is an exact scope or a `prefix:*` grant with a valid prefix. */
export function isValidGrant(grant: unknown): grant is string {
  if (typeof grant !== "string") return false;
  if (grant.endsWith(":*")) return isValidScope(grant.slice(0, -2));
  return isValidScope(grant);
}

/** True when one of `grants` allows `scope` (which must already be validated). */
export function grantsAllow(grants: readonly string[], scope: string): boolean {
  for (const grant of grants) {
    if (grant.endsWith(":*")) {
      if (scope.startsWith(grant.slice(0, -1))) return true;
    } else if (grant === scope) {
      return true;
    }
  }
  return false;
}
