/**
 * The client SDK against a real Socket.IO server speaking DESIGN.md's protocol
 * (an in-process stand-in for the gateway, typed with the shared event maps),
 * with the real socket.io-client. The full gateway + Redis + Chromium path is
 * covered by test/browser/.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import type {
  ClientToServerEvents,
  ServerToClientEvents,
  SubscribeErrorCode,
} from "../../shared/events";
import type { JobMap, JobPatch, JobValue } from "../../shared/job";
import { InvalidScopeError } from "../../shared/errors/invalid-scope-error";
import type { StoreChange } from "../../shared/store";
import * as api from "../../client/index";
import { createProgressClient, type ProgressClient } from "../../client/progress-client";
import type { ConnectionState } from "../../client/codes";
import type { ProgressClientError } from "../../client/progress-client-error";
import { job as jobValue } from "../helpers/jobs";

const FAST = {
  retryDelay: 20,
  maxRetryDelay: 100,
  ackTimeout: 2000,
  socketOptions: { reconnectionDelay: 20, reconnectionDelayMax: 100 },
};

async function until<T>(check: () => T, what: string, timeout = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function job(id: string, seq: number, extra: Partial<JobValue> = {}): JobValue {
  const now = new Date().toISOString();
  return jobValue(id, seq, { started_at: now, updated_at: now, ...extra });
}

/** A minimal gateway: token check at the handshake, subscribe with a snapshot ack, rooms per scope. */
class FakeGateway {
  readonly jobs = new Map<string, JobMap>();
  readonly tokens: string[] = [];
  readonly subscribes: string[] = [];
  readonly unsubscribes: string[] = [];
  /** Scopes answered with this error code, for as many times as given (Infinity = always). */
  readonly refuse = new Map<string, { code: SubscribeErrorCode; times: number }>();
  validTokens = new Set(["good"]);
  /** When set, subscribe acks carry `now`: this gateway's clock is this many ms off the test's. */
  clockOffset: number | undefined;
  port = 0;
  #io: Server<ClientToServerEvents, ServerToClientEvents> | undefined;

  /** @param path socket.io's path (a gateway served under a prefix). */
  async start(path?: string): Promise<void> {
    const http = createServer();
    const io = new Server<ClientToServerEvents, ServerToClientEvents>(http, path ? { path } : {});
    io.use((socket, next) => {
      const token = (socket.handshake.auth as { token?: unknown }).token;
      this.tokens.push(String(token));
      if (typeof token === "string" && this.validTokens.has(token)) next();
      else next(new Error("unauthorized"));
    });
    io.on("connection", (socket) => {
      socket.on("subscribe", ({ scope }, ack) => {
        this.subscribes.push(scope);
        const refusal = this.refuse.get(scope);
        if (refusal !== undefined && refusal.times > 0) {
          refusal.times--;
          ack({ ok: false, error: { code: refusal.code, message: `no (${refusal.code})` } });
          return;
        }
        void socket.join(scope);
        const now = this.clockOffset === undefined ? {} : { now: Date.now() + this.clockOffset };
        ack({ ok: true, scope, jobs: this.jobs.get(scope) ?? {}, ...now });
      });
      socket.on("unsubscribe", ({ scope }, ack) => {
        this.unsubscribes.push(scope);
        void socket.leave(scope);
        ack({ ok: true });
      });
    });
    await new Promise<void>((resolve) => http.listen(this.port, "127.0.0.1", resolve));
    this.port = (http.address() as AddressInfo).port;
    this.#io = io;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Writes jobs (stored for the next snapshot) and publishes them to the scope's room. */
  publish(scope: string, patch: JobPatch): void {
    const held = { ...this.jobs.get(scope) };
    for (const [id, value] of Object.entries(patch)) {
      if (value === null) delete held[id];
      else held[id] = value;
    }
    this.jobs.set(scope, held);
    this.#io?.to(scope).emit("progress", { scope, jobs: patch });
  }

  resync(scope: string): void {
    this.#io?.to(scope).emit("snapshot", { scope, jobs: this.jobs.get(scope) ?? {} });
  }

  /** Sends DISCONNECT to every client (what a gateway shutting down gracefully does). */
  kick(): void {
    this.#io?.disconnectSockets(true);
  }

  /** Stops listening; clients see their transport close. */
  async stop(): Promise<void> {
    const io = this.#io;
    this.#io = undefined;
    if (io) await new Promise<void>((resolve) => io.close(() => resolve()));
  }
}

function record(client: ProgressClient): {
  states: ConnectionState[];
  errors: ProgressClientError[];
} {
  const states: ConnectionState[] = [];
  const errors: ProgressClientError[] = [];
  client.on("state", (s) => states.push(s));
  client.on("error", (e) => errors.push(e));
  return { states, errors };
}

function listen(): {
  calls: Array<[JobMap, StoreChange]>;
  last: () => JobMap | undefined;
  listener: (jobs: JobMap, change: StoreChange) => void;
} {
  const calls: Array<[JobMap, StoreChange]> = [];
  return {
    calls,
    last: () => calls.at(-1)?.[0],
    listener: (jobs, change) => calls.push([jobs, change]),
  };
}

test("the ESM entry imports in Node (no DOM at import time); defining the element is a no-op there", () => {
  expect(typeof api.createProgressClient).toBe("function");
  expect(typeof api.mountProgress).toBe("function");
  expect(() => api.defineProgressElement()).not.toThrow();
  expect(api.isValidScope("user:1")).toBe(true);
});

describe("ProgressClient", () => {
  let gateway: FakeGateway;
  let client: ProgressClient | undefined;

  beforeEach(async () => {
    gateway = new FakeGateway();
    await gateway.start();
  });

  afterEach(async () => {
    client?.close();
    client = undefined;
    await gateway.stop();
  });

  test("validates its options and the scope before sending anything", () => {
    expect(() => createProgressClient({ url: gateway.url } as never)).toThrow(
      "Expected exactly one of `token` and `getToken`",
    );
    expect(() =>
      createProgressClient({ url: gateway.url, token: "a", getToken: () => "b" }),
    ).toThrow(TypeError);
    expect(() => createProgressClient({ token: "good" })).toThrow(/url/);
    expect(() => createProgressClient({ url: gateway.url, token: "good", ackTimeout: -1 })).toThrow(
      "Expected `ackTimeout` to be a positive number of ms, got -1",
    );
    client = createProgressClient({ url: gateway.url, token: "good", autoConnect: false });
    expect(() => client!.subscribe("user:*", () => {})).toThrow(InvalidScopeError);
    expect(() => client!.subscribe("user:1", "nope" as never)).toThrow(TypeError);
  });

  test("subscribes, receives the snapshot, merges progress by seq, and unsubscribes", async () => {
    const a3 = job("a", 3);
    gateway.jobs.set("user:1", { a: a3 });
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST });
    const { states } = record(client);
    const { calls, last, listener } = listen();
    const off = client.subscribe(["user", 1], listener);
    await until(() => calls.length === 1, "the snapshot");
    expect(last()).toEqual({ a: a3 });
    expect(client.loaded("user:1")).toBe(true);
    expect(states).toEqual(["connected"]);

    gateway.publish("user:1", { a: job("a", 2) }); // stale: dropped, no call
    gateway.publish("user:1", { b: job("b", 1) });
    await until(() => calls.length === 2, "progress b");
    expect(Object.keys(last()!).sort()).toEqual(["a", "b"]);
    expect(last()!.a?.seq).toBe(3);
    expect(calls[1]![1].updated).toEqual({ b: expect.objectContaining({ seq: 1 }) as never });

    gateway.publish("user:1", { a: null });
    await until(() => calls.length === 3, "removal of a");
    expect(calls[2]![1].removed).toEqual(["a"]);

    gateway.publish("user:1", { b: job("b", 1, { seq: 9 }) });
    await until(() => calls.length === 4, "progress b@9");
    gateway.resync("user:1"); // same content: nothing changed, nobody called
    gateway.jobs.set("user:1", { d: job("d", 1) });
    gateway.resync("user:1");
    await until(() => calls.length === 5, "resync snapshot");
    expect(calls[4]![1].removed).toEqual(["b"]);
    expect(Object.keys(last()!)).toEqual(["d"]);

    off();
    await until(() => gateway.unsubscribes.includes("user:1"), "unsubscribe");
    gateway.publish("user:1", { c: job("c", 1) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toHaveLength(5);
  });

  test("listeners on one scope share one server subscription; a late listener gets the map at once", async () => {
    gateway.jobs.set("s", { a: job("a", 1) });
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST });
    const first = listen();
    const offFirst = client.subscribe("s", first.listener);
    await until(() => first.calls.length === 1, "first snapshot");
    const second = listen();
    const offSecond = client.subscribe("s", second.listener);
    await until(() => second.calls.length === 1, "second listener's first call");
    expect(second.last()).toEqual(first.last());
    expect(gateway.subscribes).toEqual(["s"]);
    offFirst();
    gateway.publish("s", { a: job("a", 2) });
    await until(() => second.calls.length === 2, "update to the remaining listener");
    expect(gateway.unsubscribes).toEqual([]);
    offSecond();
    await until(() => gateway.unsubscribes.length === 1, "unsubscribe after the last listener");
  });

  test("the same function subscribed twice: each returned function removes only its own registration", async () => {
    gateway.jobs.set("s", { a: job("a", 1) });
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST });
    const { calls, last, listener } = listen();
    // Two consumers that happen to pass the same function (a shared handler).
    const offA = client.subscribe("s", listener);
    const offB = client.subscribe("s", listener);
    await until(() => client!.loaded("s"), "the snapshot");
    offB();
    offB(); // calling it again removes nothing more
    const before = calls.length;
    gateway.publish("s", { a: job("a", 2) });
    await until(() => last()?.a?.seq === 2, "the update to the registration that stayed");
    expect(calls.length - before).toBe(1); // one registration left, one call
    expect(client.loaded("s")).toBe(true);
    expect(gateway.unsubscribes).toEqual([]);
    offA();
    await until(() => gateway.unsubscribes.length === 1, "unsubscribe after the last one");
    expect(gateway.unsubscribes).toEqual(["s"]);
  });

  test("a scope subscribed from a `connected` state listener is sent to the gateway once", async () => {
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST, autoConnect: false });
    const { last, listener } = listen();
    client.on("state", (state) => {
      if (state === "connected") client?.subscribe("s", listener);
    });
    client.connect();
    await until(() => last() !== undefined, "the snapshot");
    // Messages on one socket arrive in order: once a later scope is loaded, a
    // duplicate subscribe for "s" would have reached the gateway.
    client.subscribe("later", () => {});
    await until(() => client!.loaded("later"), "the later scope's snapshot");
    expect(gateway.subscribes).toEqual(["s", "later"]);
  });

  test("after the gateway restarts: getToken is called again, it resubscribes and replaces the state", async () => {
    gateway.jobs.set("user:1", { a: job("a", 1), b: job("b", 1) });
    let calls = 0;
    client = createProgressClient({
      url: gateway.url,
      getToken: async () => {
        calls++;
        return "good";
      },
      ...FAST,
    });
    const { states } = record(client);
    const { last, listener } = listen();
    client.subscribe("user:1", listener);
    await until(() => last() !== undefined, "first snapshot");
    expect(calls).toBe(1);

    await gateway.stop();
    await until(() => states.includes("reconnecting"), "reconnecting state");
    // Meanwhile job b was removed and c appeared.
    const port = gateway.port;
    gateway = new FakeGateway();
    gateway.port = port;
    gateway.jobs.set("user:1", { a: job("a", 5), c: job("c", 1) });
    await gateway.start();

    await until(() => last()?.c !== undefined, "the fresh snapshot");
    expect(Object.keys(last()!).sort()).toEqual(["a", "c"]);
    expect(last()!.a?.seq).toBe(5);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(client.state).toBe("connected");
    expect(states.at(-1)).toBe("connected");
  });

  test("when the gateway closes the connection itself, the client comes back (socket.io would not)", async () => {
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST });
    const { states } = record(client);
    const { calls, listener } = listen();
    client.subscribe("s", listener);
    await until(() => calls.length === 1, "snapshot");
    gateway.jobs.set("s", { z: job("z", 1) });
    gateway.kick();
    await until(() => calls.length === 2, "the snapshot after coming back");
    expect(Object.keys(calls[1]![0])).toEqual(["z"]);
    expect(states).toEqual(["connected", "reconnecting", "connected"]);
    expect(gateway.subscribes).toEqual(["s", "s"]);
  });

  test("forbidden and invalid_scope are reported for the scope and not retried", async () => {
    gateway.refuse.set("user:2", { code: "forbidden", times: Infinity });
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST });
    const { errors } = record(client);
    const { calls, listener } = listen();
    client.subscribe("user:2", listener);
    await until(() => errors.length === 1, "the error");
    expect(errors[0]).toMatchObject({
      code: "forbidden",
      scope: "user:2",
      name: "ProgressClientError",
    });
    expect(errors[0]!.message).toContain("user:2");
    expect(client.scopeError("user:2")?.code).toBe("forbidden");
    await new Promise((resolve) => setTimeout(resolve, 150)); // longer than the retry delays
    expect(gateway.subscribes).toEqual(["user:2"]);
    expect(calls).toHaveLength(0);
  });

  test("unavailable and rate_limited are retried with backoff until the subscribe succeeds", async () => {
    gateway.refuse.set("s", { code: "unavailable", times: 1 });
    gateway.refuse.set("t", { code: "rate_limited", times: 2 });
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST });
    const { errors } = record(client);
    const s = listen();
    const t = listen();
    client.subscribe("s", s.listener);
    client.subscribe("t", t.listener);
    await until(() => s.calls.length === 1 && t.calls.length === 1, "both snapshots");
    expect(errors.map((e) => `${e.scope}:${e.code}`).sort()).toEqual([
      "s:unavailable",
      "t:rate_limited",
      "t:rate_limited",
    ]);
    expect(client.scopeError("s")).toBeUndefined();
  });

  test("a refused token is final: state disconnected, error unauthorized; connect() retries", async () => {
    let token = "bad";
    client = createProgressClient({ url: gateway.url, getToken: () => token, ...FAST });
    const { states, errors } = record(client);
    const { calls, listener } = listen();
    client.subscribe("s", listener);
    await until(() => states.includes("disconnected"), "disconnected");
    expect(errors.map((e) => e.code)).toEqual(["unauthorized"]);
    expect(errors[0]!.scope).toBeUndefined();
    token = "good";
    client.connect();
    await until(() => calls.length === 1, "snapshot after connect()");
    expect(gateway.tokens).toEqual(["bad", "good"]);
  });

  test("a failing getToken is reported and retried with backoff", async () => {
    let failures = 2;
    client = createProgressClient({
      url: gateway.url,
      getToken: () => (failures-- > 0 ? Promise.reject(new Error("token service down")) : "good"),
      ...FAST,
    });
    const { errors } = record(client);
    const { calls, listener } = listen();
    client.subscribe("s", listener);
    await until(() => calls.length === 1, "snapshot once a token came");
    expect(errors.map((e) => e.message)).toEqual([
      "Could not get a token: token service down",
      "Could not get a token: token service down",
    ]);
    expect(client.state).toBe("connected");
  });

  test("while getToken keeps failing, its retries back off up to maxRetryDelay", async () => {
    const calls: number[] = [];
    client = createProgressClient({
      url: gateway.url,
      getToken: () => {
        calls.push(performance.now());
        return Promise.reject(new Error("token service down"));
      },
      ...FAST,
      retryDelay: 20,
      maxRetryDelay: 200,
    });
    await until(() => calls.length >= 7, "seven getToken calls", 10_000);
    client.close();
    const gaps = calls.slice(1).map((at, i) => at - (calls[i] as number));
    // Backoff with jitter (0.5x to 1x): the 4th retry on waits at least
    // min(200, 20 * 2^3) / 2 = 80 ms; socket.io's own reset to ~20 ms each time.
    for (const gap of gaps.slice(3)) expect(gap).toBeGreaterThanOrEqual(80);
  });

  test("close() ends the connection and reports disconnected", async () => {
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST });
    const { states } = record(client);
    await until(() => client!.state === "connected", "connected");
    client.close();
    expect(client.state).toBe("disconnected");
    expect(states).toEqual(["connected", "disconnected"]);
  });

  test("a url with a path prefix connects under it, to the default namespace", async () => {
    const prefixed = new FakeGateway();
    await prefixed.start("/rp/socket.io");
    prefixed.jobs.set("s", { a: job("a", 1) });
    const other = createProgressClient({ url: `${prefixed.url}/rp/`, token: "good", ...FAST });
    try {
      const { last, listener } = listen();
      other.subscribe("s", listener);
      await until(() => last()?.a !== undefined, "the snapshot through the prefix");
    } finally {
      other.close();
      await prefixed.stop();
    }
    expect(() => createProgressClient({ url: "not a url", token: "good" })).toThrow(
      "Expected `url` to be a URL",
    );
  });

  test("after close() and connect(), a job whose worker went silent is still marked stalled", async () => {
    const updated = new Date().toISOString();
    gateway.jobs.set("s", { a: job("a", 1, { heartbeat: 100, updated_at: updated }) });
    client = createProgressClient({
      url: gateway.url,
      token: "good",
      ...FAST,
      stalledCheckInterval: 20,
    });
    const { last, listener } = listen();
    client.subscribe("s", listener);
    await until(() => last()?.a !== undefined, "the snapshot");
    client.close();
    client.connect();
    // Three heartbeats (300 ms) after updated_at, with no write since.
    await until(() => last()?.a?.stalled === true, "the stalled mark", 3000);
  });

  test("the subscribe ack's `now` sets the clock before any live update: a wrong browser clock is corrected", async () => {
    // The gateway (and the workers) are 2 minutes behind this browser.
    gateway.clockOffset = -120_000;
    const serverNow = Date.now() - 120_000;
    gateway.jobs.set("s", {
      a: job("a", 1, { heartbeat: 1000, updated_at: new Date(serverNow).toISOString() }),
    });
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST });
    const { last, listener } = listen();
    client.subscribe("s", listener);
    await until(() => last()?.a !== undefined, "the snapshot");
    expect(Math.abs(client.now() - (Date.now() - 120_000))).toBeLessThan(1000);
    // Judged on the raw local clock, this fresh job would look 2 minutes silent.
    expect(last()?.a?.stalled).toBeUndefined();
    expect(client.jobs("s").a?.stalled).toBeUndefined();
  });

  test("job ids such as __proto__ and constructor are ordinary keys of the maps listeners get", async () => {
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST });
    const { last, listener } = listen();
    client.subscribe("s", listener);
    await until(() => last() !== undefined, "the empty snapshot");
    gateway.publish("s", {
      ["__proto__"]: job("__proto__", 1),
      constructor: job("constructor", 1),
    });
    await until(() => Object.keys(last() ?? {}).length === 2, "both jobs");
    const jobs = client.jobs("s");
    expect(Object.keys(jobs).sort()).toEqual(["__proto__", "constructor"]);
    expect(Object.getPrototypeOf(jobs)).toBeNull();
    gateway.publish("s", { constructor: null });
    await until(() => Object.keys(last() ?? {}).length === 1, "the removal");
    expect(last()?.constructor).toBeUndefined();
  });

  test("a final refusal on resubscribe: the listener hears of the cleared jobs with the scope's error set", async () => {
    gateway.jobs.set("s", { a: job("a", 1) });
    client = createProgressClient({ url: gateway.url, token: "good", ...FAST });
    const { calls, listener } = listen();
    client.subscribe("s", listener);
    await until(() => calls.length === 1, "the snapshot");
    // The token no longer grants the scope when the client comes back.
    gateway.refuse.set("s", { code: "forbidden", times: Infinity });
    let errorAtClear: string | undefined = "not called";
    client.subscribe("s", (jobs) => {
      if (Object.keys(jobs).length === 0) errorAtClear = client?.scopeError("s")?.code;
    });
    gateway.kick();
    await until(() => errorAtClear !== "not called", "the jobs to be cleared");
    // What mountProgress shows: the refusal, not "No jobs in s yet."
    expect(errorAtClear).toBe("forbidden");
  });
});
