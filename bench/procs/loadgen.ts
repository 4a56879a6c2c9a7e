/**
 * The load generator: socket.io clients in a process of their own, so that
 * the server under test does not pay for them. Driven by the bench over IPC:
 *
 * - `open`: connects clients (each with a token for its one scope) and
 *   subscribes each to its scope; a pool shared by the later requests.
 * - `record`: `{ on: true }` starts counting deliveries and latencies (now
 *   minus the `meta.t` stamp of every job value received); `{ on: false }`
 *   stops and returns them with this process's CPU and event-loop lag.
 * - `close`: disconnects the pool.
 * - `join`: opens new clients at a steady rate and times connect → snapshot and
 *   subscribe → snapshot (the ack carries the snapshot).
 * - `sdkOpen` / `expect` / `sdkClose`: clients made with the browser SDK (which
 *   reconnects and resubscribes by itself); `expect` resolves when every one of
 *   them holds at least the expected `seq` of every job of its scope.
 */
import { io, type Socket } from "socket.io-client";
import { signScopeToken } from "../../server/tokens";
import { createProgressClient, type ProgressClient } from "../../client/progress-client";
import type { JobMap, ProgressMessage } from "../../shared/job";
import { serve } from "../lib/ipc";
import { nowUs, ProcessMeter, Samples, type Meter, type Summary } from "../lib/stats";
import { pace } from "../lib/pace";

export interface OpenRequest {
  url: string;
  count: number;
  /** Client i watches scopes[i % scopes.length]. */
  scopes: string[];
  /** Mint tokens with this secret; omitted: connect without a token (bare server). */
  secret?: string;
  /** Connections in flight at once. */
  concurrency?: number;
}

export interface OpenResult {
  opened: number;
  failed: number;
  firstError?: string;
  seconds: number;
  total: number;
}

export interface RecordResult {
  deliveries: number;
  values: number;
  latency: Summary;
  /** The latency samples themselves (µs), for pooling phases. */
  samples: Float64Array;
  seconds: number;
  meter: Meter;
}

export interface JoinRequest {
  url: string;
  secret: string;
  scopes: string[];
  rate: number;
  count: number;
  /** Jobs each snapshot must hold. */
  jobsPerScope: number;
}

export interface JoinResult {
  joined: number;
  failed: number;
  wrongSnapshots: number;
  subscribeToSnapshot: Summary;
  connectToSnapshot: Summary;
  meter: Meter;
}

export interface ExpectRequest {
  /** scope → job id → the seq a client must hold (or more). */
  expected: Record<string, Record<string, number>>;
  timeout: number;
}

export interface ExpectResult {
  /** nowUs() at which each client first held the expected state, sorted. */
  times: number[];
  missing: number;
}

type Client = Socket;

const pool: Client[] = [];
const meter = new ProcessMeter();
const samples = new Samples();
let recording = false;
let deliveries = 0;
let values = 0;
let recordStart = 0;

const tokens = new Map<string, Promise<string>>();
function tokenFor(secret: string, scope: string): Promise<string> {
  let token = tokens.get(`${secret}\n${scope}`);
  if (token === undefined) {
    token = signScopeToken({ secret, scopes: [scope], ttl: 3600, sub: "bench" });
    tokens.set(`${secret}\n${scope}`, token);
  }
  return token;
}

function stampOf(value: unknown): number | undefined {
  const v = value as { meta?: { t?: unknown }; t?: unknown } | null;
  const t = v?.meta?.t ?? v?.t;
  return typeof t === "number" ? t : undefined;
}

function onProgress(message: ProgressMessage): void {
  if (!recording) return;
  const now = nowUs();
  deliveries += 1;
  const jobs = message?.jobs;
  if (typeof jobs !== "object" || jobs === null) return;
  for (const id in jobs) {
    const t = stampOf(jobs[id]);
    if (t === undefined) continue;
    values += 1;
    samples.push(now - t);
  }
}

function socketOptions(auth: Record<string, unknown>) {
  return {
    auth,
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    timeout: 30_000,
  };
}

/** Connects one client and subscribes it; resolves with the ack's jobs. */
function connectAndSubscribe(
  socket: Client,
  scope: string,
  onConnected?: () => void,
): Promise<JobMap> {
  return new Promise((resolve, reject) => {
    socket.once("connect_error", (error) => reject(error));
    socket.once("connect", () => {
      onConnected?.();
      socket
        .timeout(30_000)
        .emit(
          "subscribe",
          { scope },
          (error: Error | null, ack: { ok: boolean; jobs?: JobMap; error?: unknown }) => {
            if (error) reject(error);
            else if (!ack?.ok) reject(new Error(`subscribe refused: ${JSON.stringify(ack)}`));
            else resolve(ack.jobs ?? {});
          },
        );
    });
  });
}

async function open(request: OpenRequest): Promise<OpenResult> {
  const started = nowUs();
  const concurrency = request.concurrency ?? 50;
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError: string | undefined;
  const base = pool.length;
  const worker = async () => {
    while (next < request.count) {
      const i = base + next++;
      const scope = request.scopes[i % request.scopes.length] as string;
      const auth = request.secret ? { token: await tokenFor(request.secret, scope) } : {};
      const socket = io(request.url, socketOptions(auth));
      socket.on("progress", onProgress);
      try {
        await connectAndSubscribe(socket, scope);
        pool.push(socket);
        opened += 1;
      } catch (error) {
        socket.disconnect();
        failed += 1;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, request.count) }, worker));
  return {
    opened,
    failed,
    firstError,
    seconds: (nowUs() - started) / 1e6,
    total: pool.length,
  };
}

function record(payload: unknown): RecordResult | true {
  const on = (payload as { on?: boolean } | undefined)?.on === true;
  if (on) {
    samples.clear();
    deliveries = 0;
    values = 0;
    meter.reset();
    recordStart = nowUs();
    recording = true;
    return true;
  }
  recording = false;
  return {
    deliveries,
    values,
    latency: samples.summary(),
    samples: samples.values(),
    seconds: (nowUs() - recordStart) / 1e6,
    meter: meter.read(),
  };
}

async function close(): Promise<number> {
  const n = pool.length;
  for (const socket of pool.splice(0)) socket.disconnect();
  // Give the server a moment to see the closes before the next phase measures it.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return n;
}

async function join(request: JoinRequest): Promise<JoinResult> {
  const subscribeTimes = new Samples();
  const connectTimes = new Samples();
  const opened: Client[] = [];
  const done: Promise<void>[] = [];
  let failed = 0;
  let wrong = 0;
  // Tokens first: minting is the application's work, not the join's.
  await Promise.all(request.scopes.map((scope) => tokenFor(request.secret, scope)));
  meter.reset();
  await pace(request.rate, request.count / request.rate, (i) => {
    const scope = request.scopes[i % request.scopes.length] as string;
    done.push(
      (async () => {
        const token = await tokenFor(request.secret, scope);
        const start = nowUs();
        let subscribed = start;
        const socket = io(request.url, socketOptions({ token }));
        opened.push(socket);
        try {
          const jobs = await connectAndSubscribe(socket, scope, () => (subscribed = nowUs()));
          const end = nowUs();
          connectTimes.push(end - start);
          subscribeTimes.push(end - subscribed);
          if (Object.keys(jobs).length !== request.jobsPerScope) wrong += 1;
        } catch {
          failed += 1;
        }
      })(),
    );
  });
  await Promise.all(done);
  const reading = meter.read();
  for (const socket of opened) socket.disconnect();
  return {
    joined: connectTimes.length,
    failed,
    wrongSnapshots: wrong,
    subscribeToSnapshot: subscribeTimes.summary(),
    connectToSnapshot: connectTimes.summary(),
    meter: reading,
  };
}

interface SdkEntry {
  client: ProgressClient;
  scope: string;
  jobs: JobMap;
  loaded: boolean;
}

const sdk: SdkEntry[] = [];
let expectation: {
  expected: Record<string, Record<string, number>>;
  pending: Set<SdkEntry>;
  times: number[];
  resolve: () => void;
} | null = null;

function holds(entry: SdkEntry, expected: Record<string, Record<string, number>>): boolean {
  const want = expected[entry.scope];
  if (want === undefined) return true;
  for (const [id, seq] of Object.entries(want)) {
    if ((entry.jobs[id]?.seq ?? -1) < seq) return false;
  }
  return true;
}

function check(entry: SdkEntry): void {
  if (expectation === null || !expectation.pending.has(entry)) return;
  if (!holds(entry, expectation.expected)) return;
  expectation.pending.delete(entry);
  expectation.times.push(nowUs());
  if (expectation.pending.size === 0) expectation.resolve();
}

async function sdkOpen(request: OpenRequest): Promise<OpenResult> {
  const started = nowUs();
  const secret = request.secret ?? "";
  const created: SdkEntry[] = [];
  for (let i = 0; i < request.count; i++) {
    const scope = request.scopes[i % request.scopes.length] as string;
    const token = await tokenFor(secret, scope);
    const client = createProgressClient({ url: request.url, token });
    const entry: SdkEntry = { client, scope, jobs: {}, loaded: false };
    client.subscribe(scope, (jobs) => {
      entry.jobs = jobs;
      entry.loaded = true;
      check(entry);
    });
    created.push(entry);
    sdk.push(entry);
    // The SDK connects at once; pace the handshakes a little like `open` does.
    if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const deadline = Date.now() + 60_000;
  while (created.some((e) => !e.loaded) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const opened = created.filter((e) => e.loaded).length;
  return {
    opened,
    failed: created.length - opened,
    seconds: (nowUs() - started) / 1e6,
    total: sdk.length,
  };
}

function expect(payload: unknown): Promise<ExpectResult> {
  const { expected, timeout } = payload as ExpectRequest;
  return new Promise((resolve) => {
    const times: number[] = [];
    const finish = () => {
      clearTimeout(timer);
      const missing = expectation?.pending.size ?? 0;
      expectation = null;
      resolve({ times: times.sort((a, b) => a - b), missing });
    };
    const timer = setTimeout(finish, timeout);
    expectation = { expected, pending: new Set(sdk), times, resolve: finish };
    for (const entry of sdk) check(entry);
  });
}

function sdkClose(): number {
  const n = sdk.length;
  for (const entry of sdk.splice(0)) entry.client.close();
  return n;
}

serve({
  open: (payload) => open(payload as OpenRequest),
  record,
  close,
  join: (payload) => join(payload as JoinRequest),
  sdkOpen: (payload) => sdkOpen(payload as OpenRequest),
  expect,
  sdkClose,
  ready: () => true,
});
