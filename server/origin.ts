/**
 * The Origin check for Socket.IO's WebSocket upgrades and polling requests.
 *
 * Browsers send `Origin` on every WebSocket handshake and cross-origin
 * request, so checking it stops another site's page from using a visitor's
 * browser as a client. Requests without `Origin` (same-origin GETs,
 * non-browser clients) pass: tokens, not origins, authenticate.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { InvalidArgumentError } from "../shared/errors/invalid-argument-error";
import { withoutUpgradeResponse } from "./upgrade-response";

export class OriginPolicy {
  readonly #any: boolean;
  readonly #allowed: ReadonlySet<string>;

  /**
   * @param allowed origins such as `https://app.example.com`, or `"*"` for any.
   * @throws InvalidArgumentError naming an entry that is not an origin.
   */
  constructor(allowed: readonly string[]) {
    if (!Array.isArray(allowed)) {
      throw new InvalidArgumentError("Expected `allowedOrigins` to be an array of origins");
    }
    this.#any = allowed.includes("*");
    this.#allowed = new Set(allowed.filter((o) => o !== "*").map(normalize));
  }

  /** The configured origins (normalized), for CORS headers. */
  get origins(): readonly string[] {
    return [...this.#allowed];
  }

  /** True when `origin` is configured explicitly (or `"*"` was given). */
  isListed(origin: string): boolean {
    return this.#any || this.#allowed.has(origin.toLowerCase());
  }

  /** True when the request has no Origin, a same-origin one, or a listed one. */
  allows(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (this.isListed(origin)) return true;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return false; // "null" (sandboxed frames, file://) and garbage
    }
    return host !== "" && host === req.headers.host?.toLowerCase();
  }
}

function normalize(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new InvalidArgumentError(
      `Expected \`allowedOrigins\` entries like "https://app.example.com", got ${JSON.stringify(origin)}`,
    );
  }
  if (url.origin === "null" || (url.pathname !== "/" && url.pathname !== "")) {
    throw new InvalidArgumentError(
      `Expected \`allowedOrigins\` entries to be scheme://host[:port] only, got ${JSON.stringify(origin)}`,
    );
  }
  return url.origin;
}

function reject403(socket: Duplex): void {
  socket.on("error", () => {
    // The peer may already be gone; nothing to do.
  });
  if (socket.writable) {
    socket.write(
      "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nForbidden",
    );
  }
  socket.destroy();
}

/**
 * engine.io answers a refused WebSocket upgrade with "400 Bad Request"; this
 * wraps the upgrade listeners it added (`added`) so that a foreign Origin on
 * our path gets a plain 403 before engine.io sees it. Other upgrade listeners
 * of the application are left alone.
 */
export function guardUpgrades(
  server: HttpServer,
  added: readonly ((...args: unknown[]) => void)[],
  path: string,
  policy: OriginPolicy,
): void {
  for (const listener of added) server.removeListener("upgrade", listener);
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = req.url ?? "";
    if (
      (url === path || url.startsWith(`${path}/`) || url.startsWith(`${path}?`)) &&
      !policy.allows(req)
    ) {
      reject403(socket);
      return;
    }
    withoutUpgradeResponse(socket, () => {
      for (const listener of added) listener.call(server, req, socket, head);
    });
  });
}

/**
 * engine.io asks `allowRequest` at the handshake only: the later polling
 * requests of an open session (GET to receive, POST to send) were served
 * whatever their Origin. This middleware answers 403 to a foreign Origin on
 * every engine.io request (upgrades were refused before it by guardUpgrades).
 */
export function guardPolling(
  engine: {
    use(middleware: (req: IncomingMessage, res: ServerResponse, next: () => void) => void): void;
  },
  policy: OriginPolicy,
): void {
  engine.use((req, res, next) => {
    if (policy.allows(req)) {
      next();
      return;
    }
    res.writeHead(403, { "Content-Type": "text/plain", Connection: "close" });
    res.end("Forbidden");
  });
}
