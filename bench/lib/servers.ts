/**
 * The bench's side of its child processes: the server under test (the
 * gateway, the BullMQ relay or the bare socket.io server) and the load
 * generator, each with typed requests.
 */
import type {
  ExpectRequest,
  ExpectResult,
  JoinRequest,
  JoinResult,
  OpenRequest,
  OpenResult,
  RecordResult,
} from "../procs/loadgen";
import type { MemoryReading } from "../procs/common";
import type { ArrivalSummary } from "./arrivals";
import { Child } from "./ipc";
import type { Meter } from "./stats";

/** The secret of every bench gateway (and relay). */
export const BENCH_SECRET = "bench-secret-that-is-long-enough-0123456789";

export type ServerKind = "gateway" | "bullmq" | "bare";

const FILES: Record<ServerKind, string> = {
  gateway: "gateway.ts",
  bullmq: "bullmq-relay.ts",
  bare: "bare.ts",
};

export interface ServerStartOptions {
  redisUrl: string;
  /** A fixed port (for restarts); default any. */
  port?: number;
  /** Run with --expose-gc so memory readings follow full collections. */
  gc?: boolean;
  /** BullMQ queue name. */
  queue?: string;
}

export class ServerProc {
  readonly kind: ServerKind;
  readonly child: Child;
  readonly port: number;
  readonly url: string;
  /** ms from spawn to listening. */
  readonly bootMs: number;

  private constructor(kind: ServerKind, child: Child, port: number, bootMs: number) {
    this.kind = kind;
    this.child = child;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.bootMs = bootMs;
  }

  static async start(kind: ServerKind, options: ServerStartOptions): Promise<ServerProc> {
    const started = Date.now();
    const child = Child.spawn(FILES[kind], {
      name: kind,
      nodeArgs: options.gc ? ["--expose-gc"] : [],
      env: {
        BENCH_REDIS_URL: options.redisUrl,
        BENCH_SECRET,
        BENCH_PORT: String(options.port ?? 0),
        BENCH_QUEUE: options.queue ?? "bench",
      },
    });
    try {
      const ready = await child.announced((m) => typeof m.ready === "number");
      return new ServerProc(kind, child, ready.ready as number, Date.now() - started);
    } catch (error) {
      await child.kill();
      throw error;
    }
  }

  /** This process's CPU and event-loop lag since the last reset (and resets when asked). */
  meter(reset = false): Promise<Meter> {
    return this.child.request<Meter>("meter", { reset });
  }

  memory(): Promise<MemoryReading> {
    return this.child.request<MemoryReading>("memory");
  }

  /** Gateway and relay: where the time of the updates since the last call went. */
  arrivals(): Promise<ArrivalSummary> {
    return this.child.request<ArrivalSummary>("arrivals");
  }

  sockets(): Promise<number> {
    return this.child.request<number>("sockets");
  }

  /** Bare server only: emits at `rate` per second over `scopes`. */
  drive(
    rate: number,
    seconds: number,
    scopes: string[],
  ): Promise<{ issued: number; rate: number }> {
    return this.child.request("drive", { rate, seconds, scopes }, (seconds + 30) * 1000);
  }

  stop(): Promise<void> {
    return this.child.stop();
  }

  kill(): Promise<void> {
    return this.child.kill();
  }
}

export class LoadGen {
  readonly child: Child;

  private constructor(child: Child) {
    this.child = child;
  }

  static async start(): Promise<LoadGen> {
    // The load generator is the bench's instrument, not what it measures: with
    // V8's default 16 MB young generation, values still in flight at a
    // scavenge were promoted, and at the fan-out's top steps its old space
    // grew by about 65 MB every 10 s, each mark-compact taking 130 to 180 ms
    // of wall time (--trace-gc): a p99 past 100 ms for whichever server's step
    // it fell in. With 64 MB they die young (295 scavenges instead of 711 in a
    // ramp, no mark-compact of its client heap).
    const child = Child.spawn("loadgen.ts", {
      name: "loadgen",
      nodeArgs: ["--max-semi-space-size=64"],
    });
    await child.request("ready", undefined, 60_000);
    return new LoadGen(child);
  }

  open(request: OpenRequest): Promise<OpenResult> {
    return this.child.request<OpenResult>("open", request, 300_000);
  }

  startRecording(): Promise<unknown> {
    return this.child.request("record", { on: true });
  }

  /** A round trip through the load generator's event loop (slow while it works through a backlog). */
  ping(): Promise<unknown> {
    return this.child.request("ready");
  }

  stopRecording(): Promise<RecordResult> {
    return this.child.request<RecordResult>("record", { on: false });
  }

  close(): Promise<number> {
    return this.child.request<number>("close");
  }

  join(request: JoinRequest): Promise<JoinResult> {
    return this.child.request<JoinResult>("join", request, 300_000);
  }

  sdkOpen(request: OpenRequest): Promise<OpenResult> {
    return this.child.request<OpenResult>("sdkOpen", request, 300_000);
  }

  expect(request: ExpectRequest): Promise<ExpectResult> {
    return this.child.request<ExpectResult>("expect", request, request.timeout + 10_000);
  }

  sdkClose(): Promise<number> {
    return this.child.request<number>("sdkClose");
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

/** Opens clients and throws unless all of them subscribed. */
export async function openAll(loadgen: LoadGen, request: OpenRequest): Promise<OpenResult> {
  const result = await loadgen.open(request);
  if (result.failed > 0) {
    throw new Error(
      `${result.failed} of ${request.count} clients failed to connect to ${request.url}: ${result.firstError}`,
    );
  }
  return result;
}
