/**
 * Letting go of a WebSocket upgrade's request once the connection is up.
 *
 * engine.io (6.6) wraps every upgrade in a small response object for its
 * middlewares and keeps it alive until the connection closes, through a
 * `socket.once("close")` listener on the TCP socket; that object holds the
 * upgrade request (an IncomingMessage with all its headers). So the advice of
 * socket.io's performance guide, `rawSocket.request = null`, frees nothing for
 * WebSocket clients: about 2 KB per connection stay. The gateway's only
 * engine.io middleware (guardPolling) does not listen to that object's events,
 * so removing the listener only lets the request be collected. A middleware
 * that waits for the response's "close" on an upgrade would need it back.
 */
import type { Duplex } from "node:stream";

type Listener = (...args: unknown[]) => void;

/**
 * Runs `upgrade` (engine.io's synchronous upgrade handling) and removes the
 * `once("close")` listeners it added to the TCP socket. The WebSocket's own
 * close listener is added with `on` and stays.
 */
export function withoutUpgradeResponse(socket: Duplex, upgrade: () => void): void {
  const before = new Set(socket.rawListeners("close"));
  upgrade();
  for (const raw of socket.rawListeners("close")) {
    // A once() registration shows up in rawListeners as a wrapper with `.listener`.
    if (!before.has(raw) && typeof (raw as { listener?: unknown }).listener === "function") {
      socket.removeListener("close", raw as Listener);
    }
  }
}
