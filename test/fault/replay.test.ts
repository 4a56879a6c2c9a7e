/**
 * Fault 5: duplicated and replayed messages. Old pub/sub messages PUBLISHed
 * again by hand (lower `seq`), and the latest one duplicated, change nothing:
 * the gateway drops them by `seq`, so clients never see a job go back; and the
 * browser SDK, fed the same replays straight over Socket.IO by a fake gateway,
 * ignores them too.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { createProgressClient } from "../../client";
import type { ClientToServerEvents, ServerToClientEvents } from "../../shared/events";
import type { JobValue } from "../../shared/job";
import { RedisProgress } from "../../shared";
import { TestGateway } from "../helpers/gateway";
import { ScopeView, storedJobs } from "../helpers/fault";
import { job as jobValue } from "../helpers/jobs";
import { waitFor } from "../helpers/wait";

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start({ gateway: { coalesceWindow: 0 } });
});

afterAll(async () => {
  await tg.stop();
});

test("old messages PUBLISHed again by hand never reach clients; the state stays the latest", async () => {
  const scope = "fault:replay";
  const channel = `resque:pace:${scope}`;
  const token = await tg.token([scope]);
  const views = await ScopeView.openMany(3, () => tg.connect(token), scope);
  // Every message the worker publishes, as sent.
  const tap = tg.redis.client();
  const recorded: string[] = [];
  tap.on("message", (_channel: string, message: string) => recorded.push(message));
  await tap.subscribe(channel);

  const pace = await RedisProgress.start({ redis: tg.redis.url, scope, total: 10, interval: 1 });
  for (let i = 0; i < 5; i++) {
    pace.tick();
    await pace.flush();
  }
  await waitFor(() => recorded.length >= 6, { what: "the worker's messages" });
  await tap.unsubscribe(channel);
  await waitFor(() => views.every((v) => v.jobs.get(pace.id)?.count === 5), {
    what: "clients at count 5",
  });
  const seqBefore = views[0]?.jobs.get(pace.id)?.seq ?? 0;
  // What each client receives from now on.
  const received = views.map((view) => {
    const seqs: number[] = [];
    view.socket.on("progress", ({ jobs }) => seqs.push(jobs[pace.id]?.seq ?? -1));
    return seqs;
  });

  // Replay: every old message again, oldest first and newest first, and the latest twice.
  const admin = tg.redis.client();
  const replays = [...recorded, ...[...recorded].reverse(), recorded.at(-1) as string];
  for (const message of replays) await admin.publish(channel, message);
  // A marker after the replays: once clients have it, the replays were processed.
  pace.tick();
  await pace.flush();
  await waitFor(() => views.every((v) => v.jobs.get(pace.id)?.count === 6), {
    what: "the write after the replays",
  });
  // Only the new write(s) arrived: every replay was dropped by seq at the gateway.
  for (const seqs of received) {
    expect(seqs.length).toBeGreaterThanOrEqual(1);
    for (const seq of seqs) expect(seq).toBeGreaterThan(seqBefore);
  }
  for (const view of views) expect(view.violations).toEqual([]);

  await pace.finish();
  const truth = await storedJobs(admin, scope);
  await waitFor(() => views.every((v) => v.equals(truth)), { what: "clients equal HGETALL" });
  // Replays after the end cannot revive the job either.
  for (const message of recorded) await admin.publish(channel, message);
  const late = await ScopeView.open(tg.connect(token), scope);
  expect(late.equals(truth)).toBe(true);
  expect(views.every((v) => v.equals(truth))).toBe(true);
});

test("the browser SDK ignores replayed and duplicated progress on its own", async () => {
  // A fake gateway that sends whatever this test says, so the SDK is the only filter.
  const server = createServer();
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const job = (seq: number, count: number): JobValue =>
    jobValue("j", seq, {
      percent: count * 10,
      count,
      total: 10,
      updated_at: new Date().toISOString(),
    });
  io.on("connection", (socket) => {
    socket.on("subscribe", ({ scope }, ack) => {
      ack({ ok: true, scope, jobs: { j: job(5, 5) } });
      socket.emit("progress", { scope, jobs: { j: job(6, 6) } });
      socket.emit("progress", { scope, jobs: { j: job(3, 3) } }); // replayed, older
      socket.emit("progress", { scope, jobs: { j: job(6, 1) } }); // duplicate seq, other content
      socket.emit("progress", { scope, jobs: { j: job(4, 4) } });
      socket.emit("progress", { scope, jobs: { j: job(7, 7) } }); // the marker
      socket.emit("progress", { scope, jobs: { j: job(2, 2) } });
      socket.emit("progress", { scope, jobs: { j: job(8, 8) } }); // the end marker
    });
  });
  const client = createProgressClient({
    url,
    token: "not-checked-by-the-fake",
    socketOptions: { transports: ["websocket"] },
  });
  const seen: number[] = [];
  try {
    client.subscribe("user:1", (jobs) => {
      const value = jobs.j;
      if (value !== undefined) seen.push(value.seq);
    });
    // Events of one socket arrive in order: once the end marker is in, every replay was handled.
    await waitFor(() => seen.includes(8), { what: "the end marker" });
    expect(client.jobs("user:1").j).toMatchObject({ seq: 8, count: 8 });
    // The listener saw only real changes: no replay moved the job back or re-announced it.
    expect(seen).toEqual([5, 6, 7, 8]);
  } finally {
    client.close();
    await new Promise((resolve) => io.close(resolve));
  }
});
