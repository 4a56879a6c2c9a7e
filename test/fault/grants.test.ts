/**
 * Abuse 10: a token for `user:3421` asking for other users' scopes
 * (`user:3422`, `user:34211`, `user:3421:x`, `user`, and with a `user:3421:*`
 * grant, `user:3421` itself and `user:34211`): refused `forbidden` over the
 * socket, 403 over /api/jobs; no room is joined, no channel subscribed, and not
 * one event about those scopes reaches the client, also after a reconnect
 * (raw socket.io-client, and the browser SDK, which is refused again when it
 * asks again after the reconnect). A worker writes to every one of them meanwhile.
 */
import { createProgressClient, type ProgressClient } from "../../client";
import { RedisProgress } from "../../shared";
import { TestGateway, subscribe, type ClientSocket } from "../helpers/gateway";
import { waitFor } from "../helpers/wait";

let tg: TestGateway;
let sdk: ProgressClient | undefined;

beforeAll(async () => {
  tg = await TestGateway.start({ gateway: { coalesceWindow: 0 } });
});

afterAll(async () => {
  sdk?.close();
  await tg.stop();
});

const FOREIGN = ["user:3422", "user:34211", "user:3421:x", "user"];

/** Every scope named in any event this socket receives. */
function eventsOf(socket: ClientSocket): string[] {
  const scopes: string[] = [];
  socket.onAny((_event: string, message: { scope?: unknown }) => {
    scopes.push(String(message?.scope));
  });
  return scopes;
}

function rooms(): string[] {
  return [...tg.gateway.io.of("/").adapter.rooms.keys()].filter((room) => room.startsWith("#"));
}

test("another user's scopes are forbidden on every path, before and after a reconnect", async () => {
  const admin = tg.redis.client();
  const token = await tg.token(["user:3421"]);
  const socket = await tg.connect(token, { reconnection: true, reconnectionDelay: 50 });
  const received = eventsOf(socket);
  sdk = createProgressClient({ url: tg.url, token, socketOptions: { transports: ["websocket"] } });
  const sdkErrors: string[] = [];
  sdk.on("error", (error) => sdkErrors.push(`${error.scope}:${error.code}`));
  const sdkSeen: string[] = [];
  for (const scope of FOREIGN) sdk.subscribe(scope, (jobs) => sdkSeen.push(...Object.keys(jobs)));

  const trackers = await Promise.all(
    ["user:3421", ...FOREIGN].map((scope) =>
      RedisProgress.start({ redis: tg.redis.url, scope, total: 10, interval: 1 }),
    ),
  );
  const writeAll = async () => {
    for (const pace of trackers) pace.tick();
    await Promise.all(trackers.map((pace) => pace.flush()));
  };

  const check = async (when: string) => {
    for (const scope of FOREIGN) {
      const ack = await subscribe(socket, scope);
      expect([when, scope, ack]).toEqual([
        when,
        scope,
        { ok: false, error: { code: "forbidden", message: expect.any(String) } },
      ]);
      const res = await fetch(`${tg.url}/api/jobs?scope=${scope}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect([when, scope, res.status]).toEqual([when, scope, 403]);
      expect(JSON.stringify(await res.json())).not.toContain("jobs");
    }
    // The granted scope works on the same socket: the positive control.
    expect((await subscribe(socket, "user:3421")).ok).toBe(true);
    const before = received.length;
    await writeAll();
    await waitFor(() => received.length > before, { what: `an update of user:3421 (${when})` });
    // Written after the foreign scopes: once user:3421's update is in, theirs would be too.
    expect(received.filter((scope) => scope !== "user:3421")).toEqual([]);
    expect(rooms()).toEqual(["#user:3421"]);
    expect(await admin.call("PUBSUB", "CHANNELS")).toEqual(["resque:pace:user:3421"]);
  };

  await check("first connection");
  await waitFor(() => sdkErrors.length === FOREIGN.length, { what: "the SDK's refusals" });

  // A reconnect: the server drops the transport, both clients come back by themselves.
  const reconnected = new Promise((resolve) => socket.io.once("reconnect", resolve));
  for (const server of tg.gateway.io.of("/").sockets.values()) server.conn.close();
  await reconnected;
  await waitFor(() => sdk?.state === "connected" && tg.gateway.io.of("/").sockets.size === 2, {
    what: "both clients back",
  });
  await check("after a reconnect");

  expect(sdkSeen).toEqual([]);
  for (const scope of FOREIGN) expect(sdk.jobs(scope)).toEqual({});
  // The SDK asks again after a reconnect (its getToken may have brought new grants): refused again.
  await waitFor(() => sdkErrors.length === 2 * FOREIGN.length, {
    what: "the SDK's second refusals",
  });
  expect(new Set(sdkErrors)).toEqual(new Set(FOREIGN.map((scope) => `${scope}:forbidden`)));
  expect(sdkSeen).toEqual([]);

  // A prefix grant covers what is below it, not the scope itself nor a longer id.
  const below = await tg.connect(await tg.token(["user:3421:*"]));
  expect(await subscribe(below, "user:3421:x")).toMatchObject({ ok: true });
  for (const scope of ["user:3421", "user:34211", "user:34211:x"]) {
    expect(await subscribe(below, scope)).toMatchObject({
      ok: false,
      error: { code: "forbidden" },
    });
  }
  await Promise.all(trackers.map((pace) => pace.finish()));
});
