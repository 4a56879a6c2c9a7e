/**
 * Fault 8: the snapshot race at load. A worker process writes thousands of
 * updates per second across 100 jobs (25 scopes of 4) while 200 clients join
 * and leave at random: subscribe, unsubscribe, disconnect and come back with a
 * new connection. Few clients per scope, so scopes go cold and are subscribed
 * and read again while writes race with the read. No client ever sees a job's
 * `seq` go back within a subscription, and every client still subscribed at
 * the end equals HGETALL of its scope.
 */
import type { JobMap } from "../../shared/job";
import { TestGateway, type ClientSocket } from "../helpers/gateway";
import {
  ScopeView,
  commandCounts,
  killChildren,
  report,
  startWorker,
  storedJobs,
} from "../helpers/fault";
import { waitFor } from "../helpers/wait";

const CLIENTS = 200;
const SCOPES = 25;
const JOBS = 100;
const CHURN_MS = 5000;

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start({
    gateway: { limits: { subscribeBurst: 1000, subscribeRate: 1000 } },
  });
});

afterAll(async () => {
  killChildren();
  await tg.stop();
});

const pause = (max: number) => new Promise((r) => setTimeout(r, Math.random() * max));

/** One client: a socket and its view of one scope, joining and leaving at random. */
class Client {
  view: ScopeView | undefined;
  readonly violations: string[] = [];
  joins = 0;
  leaves = 0;
  reconnects = 0;

  constructor(
    readonly scope: string,
    readonly token: string,
  ) {}

  async run(until: number): Promise<void> {
    await this.#connect();
    while (Date.now() < until) {
      const view = this.view as ScopeView;
      await view.subscribe();
      this.joins += 1;
      await pause(400);
      if (Date.now() >= until) break;
      const roll = Math.random();
      if (roll < 0.2) {
        // Leave by going away altogether, then come back on a new connection.
        this.#retire();
        await pause(300);
        await this.#connect();
        this.reconnects += 1;
      } else {
        await view.unsubscribe();
        this.leaves += 1;
        await pause(600);
      }
    }
    // End state: some clients watch, some do not.
    if (!this.view?.subscribed && Math.random() < 0.5) {
      await this.view?.subscribe();
      this.joins += 1;
    }
  }

  close(): void {
    this.#retire();
  }

  async #connect(): Promise<void> {
    const socket: ClientSocket = await tg.connect(this.token);
    this.view = new ScopeView(socket, this.scope);
  }

  #retire(): void {
    if (this.view === undefined) return;
    this.violations.push(...this.view.violations);
    this.view.subscribed = false;
    this.view.socket.disconnect();
  }
}

test("200 clients joining and leaving at random under thousands of writes/s all end equal to HGETALL", async () => {
  const admin = tg.redis.client();
  const token = await tg.token(["race:*"]);
  const worker = startWorker({
    REDIS_URL: tg.redis.url,
    SCOPE: "race",
    SCOPES,
    JOBS,
    ID: "job",
    TOTAL: 1e12,
    MODE: "spin",
    TICK_N: 1,
    INTERVAL: 5,
    MEMORY_MS: 1000,
  });
  await worker.waitForEvent((e) => e.event === "ready", "the worker's 100 markers");
  await admin.config("RESETSTAT");
  const writesAt = (e: Record<string, unknown>) => e.writes as number;
  const startSample = await worker.waitForEvent(
    (e) => e.event === "memory" && writesAt(e) > 0,
    "the worker writing",
  );

  const clients = Array.from(
    { length: CLIENTS },
    (_, i) => new Client(`race:${i % SCOPES}`, token),
  );
  const until = Date.now() + CHURN_MS;
  const started = performance.now();
  await Promise.all(clients.map((client) => client.run(until)));
  const churnMs = performance.now() - started;
  const endSample = worker.events.filter((e) => e.event === "memory").at(-1) ?? startSample;
  const counts = await commandCounts(admin);

  worker.send("finish");
  await worker.waitForEvent((e) => e.event === "finished", "the worker to finish");
  expect(await worker.exited).toEqual({ code: 0, signal: null });
  expect(worker.stderr).toBe("");

  const truth = new Map<string, JobMap>();
  for (let s = 0; s < SCOPES; s++) truth.set(`race:${s}`, await storedJobs(admin, `race:${s}`));
  for (const jobs of truth.values()) {
    expect(Object.keys(jobs)).toHaveLength(JOBS / SCOPES);
    for (const job of Object.values(jobs)) expect(job.status).toBe("completed");
  }
  const watching = clients.filter((c) => c.view?.subscribed === true);
  expect(watching.length).toBeGreaterThan(0);
  await waitFor(() => watching.every((c) => c.view?.equals(truth.get(c.scope) ?? {}) === true), {
    timeout: 15_000,
    what: "every subscribed client to equal HGETALL of its scope",
  });
  for (const client of clients) {
    expect([...client.violations, ...(client.view?.violations ?? [])]).toEqual([]);
  }

  const writes = writesAt(endSample) - writesAt(startSample);
  const seconds = ((endSample.at as number) - (startSample.at as number)) / 1000;
  expect(seconds).toBeGreaterThan(0);
  report("8 snapshot-race", {
    clients: CLIENTS,
    scopes: SCOPES,
    jobs: JOBS,
    churnMs: Math.round(churnMs),
    workerWritesPerSecond: Math.round(writes / seconds),
    joins: clients.reduce((n, c) => n + c.joins, 0),
    leaves: clients.reduce((n, c) => n + c.leaves, 0),
    reconnects: clients.reduce((n, c) => n + c.reconnects, 0),
    coldScopeSubscribes: counts.subscribe ?? 0,
    subscribedAtEnd: watching.length,
  });
  for (const client of clients) client.close();
}, 90_000);
