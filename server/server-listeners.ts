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
type Snapshot = Map<(typeof EVENTS)[number], Listener[]>;

function snapshot(server: HttpServer): Snapshot {
  return new Map(EVENTS.map((event) => [event, server.listeners(event) as Listener[]]));
}

/**
 * Records the server's listeners before the gateway attaches; call the result
 * once attached: it returns the function that takes off what the gateway added
 * and puts back, in front as they were, what it took off. Listeners the caller
 * adds later are left alone.
 */
export function recordListeners(server: HttpServer): () => () => void {
  const before = snapshot(server);
  return () => {
    const attached = snapshot(server);
    return () => {
      for (const [event, was] of before) {
        const added = attached.get(event) ?? [];
        for (const listener of added) {
          if (!was.includes(listener)) server.removeListener(event, listener);
        }
        const removed = was.filter((listener) => !added.includes(listener));
        for (const listener of removed.reverse()) server.prependListener(event, listener);
      }
    };
  };
}
