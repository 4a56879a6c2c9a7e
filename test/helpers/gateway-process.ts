/**
 * The gateway as a separate process, the way its users run it (`node --import
 * tsx server/cli.ts serve`, configured by environment), for restart, flood and
 * scale-out tests. SIGKILL leftovers with killChildren() in afterAll.
 */
import { join } from "node:path";
import { TEST_SECRET, freePort } from "./gateway";
import { JsonProcess, ROOT } from "./json-process";
import { waitFor } from "./wait";

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

  /**
   * Starts a gateway with TEST_SECRET on a free port, configured by `env` (at
   * least REDIS_URL or REDIS_CLUSTER_NODES); the test process's own settings of
   * those are not passed on.
   */
  static async start(env: Record<string, string>): Promise<GatewayProcess> {
    const port = await freePort();
    const vars: NodeJS.ProcessEnv = { ...process.env };
    for (const name of [
      "REDIS_URL",
      "REDIS_CLUSTER_NODES",
      "PACE_PREFIX",
      "PACE_DEMO",
      "PACE_ALLOWED_ORIGINS",
    ]) {
      delete vars[name];
    }
    Object.assign(vars, {
      PACE_SECRET: TEST_SECRET,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      ...env,
    });
    const gateway = new GatewayProcess(port, vars);
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

  /** SIGTERM, and the exit code (0 expected); SIGKILL if it has not exited after 10 s. */
  async stop(): Promise<number | null> {
    const force = setTimeout(() => void this.process.kill("SIGKILL"), 10_000);
    await this.process.kill("SIGTERM");
    clearTimeout(force);
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
