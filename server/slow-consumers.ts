/**
 * Slow consumers. What the gateway sends a socket that does not read stays in
 * the gateway's memory: engine.io's write buffer, then the TCP socket's. The
 * heartbeat ends a client that stopped altogether (after pingInterval +
 * pingTimeout), but a client that answers heartbeats without reading would
 * grow it for as long as its scopes are busy. So, as Redis does with a pub/sub
 * client past its output buffer limit, a socket holding more than
 * `maxBufferedBytes` unsent is disconnected; the SDK reconnects, resubscribes
 * and is brought up to date by the snapshots. One pass over the sockets per
 * `interval`: no cost per event on the way to the watchers.
 */
import type { Server, Socket } from "socket.io";

/** What an engine.io connection holds unsent, in bytes (UTF-16 units for text). */
export function bufferedBytes(socket: Socket): number {
  const conn = socket.conn as unknown as {
    writeBuffer?: { data?: unknown }[];
    transport?: { socket?: { bufferedAmount?: unknown } };
  };
  let bytes = 0;
  for (const packet of conn.writeBuffer ?? []) {
    const data = packet.data;
    if (typeof data === "string") bytes += data.length;
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) bytes += data.byteLength;
  }
  // The WebSocket transport's own socket (ws: written but not yet sent).
  const wsBuffered = conn.transport?.socket?.bufferedAmount;
  if (typeof wsBuffered === "number") bytes += wsBuffered;
  return bytes;
}

/**
 * Ends a dropped socket's connection at once. socket.io's disconnect closes it
 * only once its write buffer has drained, which a client that does not read
 * never lets happen; and a WebSocket's close handshake would wait (30 s) for
 * that peer too.
 */
function cutOff(socket: Socket): void {
  const conn = socket.conn as unknown as {
    close(discard: boolean): void;
    transport?: { socket?: { terminate?: unknown } };
  };
  const ws = conn.transport?.socket;
  if (ws !== undefined && typeof ws.terminate === "function") (ws.terminate as () => void)();
  conn.close(true);
}

export class SlowConsumers {
  readonly #timer: NodeJS.Timeout;

  /**
   * @param io the server whose sockets are checked.
   * @param maxBytes the most a socket may hold unsent.
   * @param onDrop called with each socket disconnected and what it held.
   * @param interval ms between two passes.
   */
  constructor(
    io: Server,
    maxBytes: number,
    onDrop: (socket: Socket, bytes: number) => void,
    interval = 1000,
  ) {
    this.#timer = setInterval(() => {
      for (const socket of io.of("/").sockets.values()) {
        const bytes = bufferedBytes(socket);
        if (bytes > maxBytes) {
          onDrop(socket, bytes);
          socket.disconnect(true);
          cutOff(socket);
        }
      }
    }, interval);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
