/**
 * Fault 6: the gateway process (the CLI, as deployed) SIGKILLed and restarted
 * on the same port with 200 browser-SDK clients connected. All reconnect and
 * converge on what Redis holds, including what was written while the gateway
 * was down; the snapshot reads stay coalesced per scope (INFO commandstats:
 * about one read-script call per scope, not one per client); the
 * restart-to-all-converged time is reported.
 */
import { createProgressClient, type ProgressClient } from "../../client";
import { signScopeToken } from "../../server";
import { RedisProgress } from "../../shared";
import { TEST_SECRET } from "../helpers/gateway";
import {
  GatewayProcess,
  commandCounts,
  killChildren,
  report,
  sameJobs,
  since,
  storedJobs,
} from "../helpers/fault";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

const CLIENTS = 200;
const SCOPES = ["restart:1", "restart:2", "restart:3", "restart:4"];

let redis: TestRedis;
let gateway: GatewayProcess;
const clients: ProgressClient[] = [];

beforeAll(async () => {
  redis = await TestRedis.start();
  gateway = await GatewayProcess.start({ REDIS_URL: redis.url });
});

afterAll(async () => {
  for (const client of clients) client.close();
  killChildren();
  await redis.stop();
});

test("200 clients reconnect and converge after a gateway SIGKILL; snapshot reads coalesced per scope", async () => {
  const admin = redis.client();
  const token = await signScopeToken({ secret: TEST_SECRET, scopes: ["restart:*"], ttl: 600 });
  const trackers = await Promise.all(
    SCOPES.flatMap((scope) =>
      [1, 2].map((n) =>
        RedisProgress.start({ redis: redis.url, scope, id: `job-${n}`, total: 100 }),
      ),
    ),
  );
  const step = async (n: number) => {
    for (const pace of trackers) pace.tick(n);
    await Promise.all(trackers.map((pace) => pace.flush()));
  };
  await step(30);

  for (let i = 0; i < CLIENTS; i++) {
    const client = createProgressClient({
      url: gateway.url,
      token,
      socketOptions: {
        transports: ["websocket"],
        reconnectionDelay: 200,
        reconnectionDelayMax: 1000,
      },
    });
    client.on("error", () => {
      // Refusals while the gateway is down are expected; convergence is checked below.
    });
    client.subscribe(SCOPES[i % SCOPES.length] as string, () => {});
    clients.push(client);
  }
  type Truth = Map<string, Awaited<ReturnType<typeof storedJobs>>>;
  const read = async (): Promise<Truth> =>
    new Map(await Promise.all(SCOPES.map(async (s) => [s, await storedJobs(admin, s)] as const)));
  const converged = (truth: Truth) => () =>
    clients.every((client, i) => {
      const scope = SCOPES[i % SCOPES.length] as string;
      return client.state === "connected" && sameJobs(client.jobs(scope), truth.get(scope) ?? {});
    });
  await waitFor(converged(await read()), {
    timeout: 30_000,
    what: "200 clients to load their scopes",
  });

  await gateway.kill();
  await waitFor(() => clients.every((c) => c.state !== "connected"), {
    what: "every client to notice the gateway is gone",
  });
  // Written while no gateway runs: only the snapshot after the restart brings it.
  await step(30);
  const truth = await read();
  await admin.config("RESETSTAT");

  const restartAt = performance.now();
  await gateway.spawn();
  const listeningMs = since(restartAt);
  await waitFor(converged(truth), {
    timeout: 30_000,
    interval: 50,
    what: "200 clients to converge",
  });
  const convergedMs = since(restartAt);
  const counts = await commandCounts(admin);
  const reads = (counts.evalsha ?? 0) + (counts.eval ?? 0);
  // About one snapshot read per scope (a few more if a read raced a resync), not one per client.
  expect(reads).toBeGreaterThanOrEqual(SCOPES.length);
  expect(reads).toBeLessThanOrEqual(SCOPES.length * 2);
  expect(counts.subscribe ?? 0).toBeLessThanOrEqual(SCOPES.length * 2);

  // And it streams again: the final writes reach every client.
  await step(40);
  await Promise.all(trackers.map((pace) => pace.finish()));
  const final = await read();
  await waitFor(converged(final), { timeout: 30_000, what: "the final state on every client" });
  for (const scope of SCOPES) {
    for (const job of Object.values(await storedJobs(admin, scope))) {
      expect(job).toMatchObject({ percent: 100, status: "completed" });
    }
  }
  expect(gateway.problems()).toEqual([]);
  expect(await gateway.stop()).toBe(0);
  report("6 gateway-restart", {
    clients: CLIENTS,
    scopes: SCOPES.length,
    restartToListeningMs: listeningMs,
    restartToAllConvergedMs: convergedMs,
    snapshotReadScriptCalls: reads,
    subscribeCalls: counts.subscribe ?? 0,
    hgetallCalls: counts.hgetall ?? 0, // inside the read script
    clientReconnectDelay: "200 ms doubling to 1 s, with jitter",
  });
}, 120_000);
