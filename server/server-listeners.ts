/**
 * The listeners the gateway puts on an HTTP server that is the caller's, and
 * taking them off again. engine.io replaces the server's "request" listeners
 * by one of its own (which calls them for other paths) and adds "upgrade",
 * "close" and "listening" ones; guardUpgrades wraps the upgrade ones. Left
 * there after close(), they kept serving Socket.IO polling clients on the
 * caller's server, and kept the closed gateway reachable (its memory too).
 */
import type { Server as HttpServer } from "node:http";

const EVENTS = ["request", "upgrade", "close", "listening"] as const;

type Listener = (...args: unknown[]) => void;

/** Records the server's listeners now; the function returned puts them back as they were. */
export function recordListeners(server: HttpServer): () => void {
  const before = new Map(EVENTS.map((event) => [event, server.listeners(event) as Listener[]]));
  return () => {
    for (const [event, listeners] of before) {
      const now = server.listeners(event) as Listener[];
      for (const listener of now) {
        if (!listeners.includes(listener)) server.removeListener(event, listener);
      }
      // engine.io took the caller's "request" listeners off: they come back.
      for (const listener of listeners) {
        if (!now.includes(listener)) server.on(event, listener);
      }
    }
  };
}
