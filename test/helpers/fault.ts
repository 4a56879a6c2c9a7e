/**
 * Pieces shared by the fault suites (test/fault/): child processes that report
 * JSON lines (the fault worker, the gateway CLI), a client's view of a scope
 * that checks `seq` never goes back, the stored truth, and Redis command counts.
 *
 * Crash checks: a child process must exit as told with nothing on stderr;
 * inside Jest an unhandled rejection fails the running test by itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Redis } from "ioredis";
import type { JobMap, JobValue } from "../../shared/job";
import { DEFAULT_PREFIX } from "../../shared/keys";
import { TEST_SECRET, freePort } from "./gateway";
import { waitFor } from "./wait";

export { ScopeView, sameJobs } from "./scope-view";

const ROOT = join(__dirname, "..", "..");
const running = new Set<ChildProcess>();

/** A child process whose stdout is JSON lines (anything else is kept as text). */
export class JsonProcess {
  readonly child: ChildProcess;
  /** Every JSON line printed so far. */
  readonly events: Record<string, unknown>[] = [];
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child = child;
    running.add(child);
    let partial = "";
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      this.stdout += chunk;
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        try {
          this.events.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a JSON line
        }
      }
    });
    child.stderr?.on("data", (chunk: string) => (this.stderr += chunk));
    child.stdin?.on("error", () => {
      // The child may be gone (killed on purpose).
    });
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        running.delete(child);
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Resolves with the first event matching `match` (already printed or to come). */
  waitForEvent(
    match: (event: Record<string, unknown>) => boolean,
    what: string,
    timeout = 30_000,
  ): Promise<Record<string, unknown>> {
    return waitFor(
      () => {
        const found = this.events.find(match);
        if (found !== undefined) return found;
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          throw new Error(
            `exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr}`,
          );
        }
        return undefined;
      },
      { timeout, interval: 20, what },
    );
  }

  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<unknown> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Kills every child started by this file that is still running (call in afterAll). */
export function killChildren(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
}

export interface WorkerEnv {
  REDIS_URL: string;
  SCOPE: string;
  TOTAL: number;
  [name: string]: string | number;
}

/** Starts test/fixtures/fault-worker.ts (with --expose-gc, for its memory reports). */
export function startWorker(env: WorkerEnv): JsonProcess {
  const vars: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(env)) vars[name] = String(value);
  return new JsonProcess(
    ["--expose-gc", "--import", "tsx", join(ROOT, "test", "fixtures", "fault-worker.ts")],
    vars,
  );
}

/**
 * The gateway as its users run it: `node --import tsx server/cli.ts serve`, configured
 * by environment, on a fixed loopback port so that a restart comes back at the same URL.
 */
export class GatewayProcess {
  readonly port: number;
  readonly url: string;
  readonly #env: NodeJS.ProcessEnv;
  #process: JsonProcess | undefined;

  private constructor(port: number, env: NodeJS.ProcessEnv) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.#env = env;
  }

  static async start(
    redisUrl: string,
    extra: Record<string, string> = {},
  ): Promise<GatewayProcess> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ["REDIS_CLUSTER_NODES", "PACE_PREFIX", "PACE_DEMO", "PACE_ALLOWED_ORIGINS"])
      delete env[name];
    Object.assign(env, {
      REDIS_URL: redisUrl,
      PACE_SECRET: TEST_SECRET,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      ...extra,
    });
    const gateway = new GatewayProcess(port, env);
    await gateway.spawn();
    return gateway;
  }

  get process(): JsonProcess {
    if (this.#process === undefined) throw new Error("The gateway was not started");
    return this.#process;
  }

  /** Starts the process (again) and resolves once /healthz answers 200. */
  async spawn(): Promise<void> {
    const proc = new JsonProcess(
      ["--import", "tsx", join(ROOT, "server", "cli.ts"), "serve"],
      this.#env,
    );
    this.#process = proc;
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) {
          throw new Error(`the gateway exited with ${proc.child.exitCode}: ${proc.stderr}`);
        }
        return (await fetch(`${this.url}/healthz`)).status === 200;
      },
      { timeout: 30_000, interval: 25, what: `the gateway on ${this.url}` },
    );
  }

  /** SIGKILL: no shutdown at all; sockets are cut by the kernel. */
  async kill(): Promise<void> {
    await this.process.kill("SIGKILL");
  }

  /** SIGTERM, and the exit code (0 expected). */
  async stop(): Promise<number | null> {
    await this.process.kill("SIGTERM");
    return (await this.process.exited).code;
  }

  /** What the process wrote on stderr, and its warn/error log lines. */
  problems(): string[] {
    const logged = this.process.events
      .filter((line) => typeof line.level === "number" && line.level >= 50)
      .map((line) => JSON.stringify(line));
    return [...(this.process.stderr === "" ? [] : [this.process.stderr]), ...logged];
  }
}

/** The scope's jobs as stored (HGETALL, parsed). */
export async function storedJobs(
  client: Redis,
  scope: string,
  prefix = DEFAULT_PREFIX,
): Promise<JobMap> {
  const raw = await client.hgetall(`${prefix}:${scope}`);
  const jobs: JobMap = {};
  for (const [id, value] of Object.entries(raw)) jobs[id] = JSON.parse(value) as JobValue;
  return jobs;
}

/** Calls per command since the last CONFIG RESETSTAT (INFO commandstats), lower-case names. */
export async function commandCounts(client: Redis): Promise<Record<string, number>> {
  const info = await client.info("commandstats");
  const counts: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    counts[(match[1] as string).toLowerCase()] = Number(match[2]);
  }
  return counts;
}

/** Milliseconds since `start`, rounded, for the figures a suite prints. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}

/** Prints a suite's measured figures (kept in the test log for the report). */
export function report(name: string, figures: Record<string, unknown>): void {
  process.stdout.write(`[fault figures] ${name}: ${JSON.stringify(figures)}\n`);
}
