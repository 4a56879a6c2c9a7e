/**
 * Gateways as separate processes (`node --import tsx server/cli.ts serve`),
 * configured by environment like a deployment, for scale-out tests. Stop them
 * with stop() (SIGTERM); killGatewayProcesses() in afterAll SIGKILLs leftovers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { TEST_SECRET, freePort } from "./gateway";
import { waitFor } from "./wait";

const ROOT = join(__dirname, "..", "..");
const RUN = ["--import", "tsx", join(ROOT, "server", "cli.ts"), "serve"];
const running = new Set<ChildProcess>();

export class GatewayProcess {
  /** Parsed pino lines printed so far. */
  readonly logs: Record<string, unknown>[] = [];
  #output = "";

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    let partial = "";
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => (this.#output += chunk));
    child.stdout?.on("data", (chunk: string) => {
      this.#output += chunk;
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** stdout and stderr so far (for failure messages). */
  get output(): string {
    return this.#output;
  }

  /** Starts a gateway with TEST_SECRET and `env`; resolves once /healthz answers 200. */
  static async start(env: Record<string, string>): Promise<GatewayProcess> {
    const port = await freePort();
    const base: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ["REDIS_URL", "REDIS_CLUSTER_NODES", "PACE_PREFIX", "PACE_DEMO"]) {
      delete base[name];
    }
    const child = spawn(process.execPath, RUN, {
      cwd: ROOT,
      env: {
        ...base,
        PACE_SECRET: TEST_SECRET,
        PORT: String(port),
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    child.once("exit", () => running.delete(child));
    const gateway = new GatewayProcess(child, port);
    await waitFor(
      async () => {
        if (child.exitCode !== null) {
          throw new Error(`the gateway exited with ${child.exitCode}: ${gateway.output}`);
        }
        const response = await fetch(`${gateway.url}/healthz`);
        return response.status === 200;
      },
      { timeout: 30_000, interval: 100, what: "a gateway process to answer /healthz" },
    );
    return gateway;
  }

  /** SIGTERM and wait for the exit code (SIGKILL after 10 s). */
  async stop(): Promise<number | null> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => resolve(code)),
    );
    child.kill("SIGTERM");
    const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(force);
    return code;
  }
}

/** SIGKILLs every gateway process still running (afterAll safety net). */
export function killGatewayProcesses(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
}
