/**
 * What a connected socket keeps on the gateway: not its token, and not the
 * WebSocket upgrade request (engine.io's upgrade response would hold it, with
 * all its headers, until the connection closes).
 */
import type { Duplex } from "node:stream";
import { TestGateway } from "../helpers/gateway";

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start();
});

afterAll(async () => {
  await tg.stop();
});

function serverSockets() {
  return [...tg.gateway.io.of("/").sockets.values()];
}

test("the token is dropped from the handshake once verified", async () => {
  const client = await tg.connect(await tg.token(["user:1"]));
  const [socket] = serverSockets().filter((s) => s.id === client.id);
  expect(socket).toBeDefined();
  expect(socket?.data.claims.scopes).toEqual(["user:1"]);
  expect((socket?.handshake.auth as { token?: unknown }).token).toBeUndefined();
  client.disconnect();
});

test("no once('close') listener holds the upgrade request of a WebSocket connection", async () => {
  const client = await tg.connect(await tg.token(["user:1"]));
  const [socket] = serverSockets().filter((s) => s.id === client.id);
  // engine.io socket → websocket transport → ws WebSocket → TCP socket.
  const tcp = (socket?.conn as unknown as { transport: { socket: { _socket: Duplex } } }).transport
    .socket._socket;
  const onceListeners = tcp
    .rawListeners("close")
    .filter((l) => typeof (l as { listener?: unknown }).listener === "function");
  expect(tcp.listenerCount("close")).toBeGreaterThan(0);
  expect(onceListeners).toEqual([]);
  client.disconnect();
});
