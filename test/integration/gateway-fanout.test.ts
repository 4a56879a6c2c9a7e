/**
 * Fan-out coalescing: the first update for a room goes out at once, further
 * ones within the window are merged (latest per job) into one event. The
 * Fanout class is driven with fake timers; the gateway end to end with a
 * real worker.
 */
import type { JobPatch, JobValue } from "../../shared/job";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { Fanout } from "../../server/fanout";
import { TestGateway, subscribe, waitFor } from "../helpers/gateway";
import { job as jobValue } from "../helpers/jobs";

function job(id: string, seq: number): JobValue {
  const at = new Date(0).toISOString();
  return jobValue(id, seq, { started_at: at, updated_at: at });
}

describe("Fanout", () => {
  let sent: { scope: string; patch: JobPatch }[];
  let texts: (string | undefined)[];
  let fanout: Fanout;

  beforeEach(() => {
    jest.useFakeTimers();
    sent = [];
    texts = [];
    fanout = new Fanout(50, (scope, patch, text) => {
      sent.push({ scope, patch: { ...patch } });
      texts.push(text);
    });
  });

  afterEach(() => {
    fanout.close();
    jest.useRealTimers();
  });

  test("the first update goes out at once; a burst within the window becomes one event, latest per job", () => {
    fanout.push("s", { a: job("a", 1) });
    expect(sent).toHaveLength(1);
    fanout.push("s", { a: job("a", 2), b: job("b", 1) });
    fanout.push("s", { a: job("a", 3) });
    fanout.push("s", { b: null });
    expect(sent).toHaveLength(1);
    jest.advanceTimersByTime(50);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual({ scope: "s", patch: { a: job("a", 3), b: null } });
  });

  test("after a quiet window the next update goes out at once again; sparse updates arm no timer", () => {
    fanout.push("s", { a: job("a", 1) });
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(1000);
    fanout.push("s", { a: job("a", 2) });
    expect(sent.map((e) => e.patch.a?.seq)).toEqual([1, 2]);
    expect(jest.getTimerCount()).toBe(0);
  });

  test("an update soon after a send waits only for the rest of that window; the message text goes with a patch sent at once", () => {
    fanout.push("s", { a: job("a", 1) }, "text-1");
    jest.advanceTimersByTime(30);
    fanout.push("s", { a: job("a", 2) }, "text-2");
    expect(sent).toHaveLength(1);
    jest.advanceTimersByTime(19);
    expect(sent).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(sent.map((e) => e.patch.a?.seq)).toEqual([1, 2]);
    // A merged patch is no longer any one message: it goes without text.
    expect(texts).toEqual(["text-1", undefined]);
  });

  test("a steady stream goes out once per window", () => {
    for (let t = 0; t < 500; t += 10) {
      fanout.push("s", { a: job("a", t) });
      jest.advanceTimersByTime(10);
    }
    jest.advanceTimersByTime(100);
    expect(sent.length).toBeGreaterThanOrEqual(10);
    expect(sent.length).toBeLessThanOrEqual(12);
    expect(sent.at(-1)?.patch.a?.seq).toBe(490);
  });

  test("rooms are independent, and drop() forgets what is pending", () => {
    fanout.push("x", { a: job("a", 1) });
    fanout.push("y", { a: job("a", 1) });
    expect(sent).toHaveLength(2);
    fanout.push("x", { a: job("a", 2) });
    fanout.push("y", { a: job("a", 2) });
    fanout.drop("x");
    jest.advanceTimersByTime(50);
    expect(sent.map((e) => e.scope)).toEqual(["x", "y", "y"]);
  });

  test("a window of 0 sends every update", () => {
    const every: number[] = [];
    const direct = new Fanout(0, (_scope, patch) => every.push(patch.a?.seq ?? -1));
    for (let i = 1; i <= 3; i++) direct.push("s", { a: job("a", i) });
    expect(every).toEqual([1, 2, 3]);
    direct.close();
  });
});

test("through the gateway, a burst of writes arrives as fewer progress events, ending on the latest", async () => {
  const tg = await TestGateway.start({ gateway: { coalesceWindow: 500 } });
  try {
    const socket = await tg.connect(await tg.token(["burst:1"]));
    const events: JobPatch[] = [];
    socket.on("progress", (message) => events.push(message.jobs));
    expect((await subscribe(socket, "burst:1")).ok).toBe(true);
    const pace = await RedisProgress.start({ redis: tg.redis.url, scope: "burst:1", total: 40 });
    let writes = 1;
    for (let i = 0; i < 40; i++) {
      pace.tick();
      await pace.flush();
      writes += 1;
    }
    await pace.finish();
    writes += 1;
    await waitFor(() => events.some((e) => e[pace.id]?.status === "completed"));
    expect(events.length).toBeLessThan(writes);
    expect(events.at(-1)?.[pace.id]?.seq).toBe(pace.seq);
  } finally {
    await tg.stop();
  }
});

test("a message goes out as received only when it is all new jobs of the scope; otherwise the checked patch goes", async () => {
  const tg = await TestGateway.start({ gateway: { coalesceWindow: 0 } });
  const admin = tg.redis.client();
  try {
    const socket = await tg.connect(await tg.token(["wire:1"]));
    const events: { scope: string; jobs: JobPatch }[] = [];
    socket.on("progress", (message) => events.push(message));
    expect((await subscribe(socket, "wire:1")).ok).toBe(true);
    const channel = "resque:pace:wire:1";
    const at = new Date().toISOString();
    const value = (seq: number) => jobValue("j1", seq, { started_at: at, updated_at: at });
    // A garbage entry, a stale value, an extra field or another scope's name:
    // the clients get only the new, checked values, under the watched scope.
    for (const message of [
      { scope: "wire:1", jobs: { j1: value(50), junk: { bad: 1 } } },
      { scope: "wire:1", jobs: { j1: value(40) } },
      { scope: "wire:1", extra: 1, jobs: { j1: value(60) } },
      { scope: "wire:2", jobs: { j1: value(70) } },
      { scope: "wire:1", jobs: { j1: value(80) } },
    ]) {
      await admin.publish(channel, JSON.stringify(message));
    }
    await waitFor(() => events.some((e) => e.jobs.j1?.seq === 80), { what: "seq 80" });
    expect(
      events.map((e) => ({ scope: e.scope, ids: Object.keys(e.jobs), seq: e.jobs.j1?.seq })),
    ).toEqual([50, 60, 70, 80].map((seq) => ({ scope: "wire:1", ids: ["j1"], seq })));
    expect(events.every((e) => Object.keys(e).join() === "scope,jobs")).toBe(true);
    expect(events.at(-1)?.jobs.j1).toEqual(value(80));
  } finally {
    admin.disconnect();
    await tg.stop();
  }
});
