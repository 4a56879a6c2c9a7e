/**
 * An isolated redis-server for one test suite, on a free loopback port, started
 * through redis-memory-server with the system binary. Fault tests can stop,
 * kill (SIGKILL), freeze (SIGSTOP), thaw (SIGCONT) and restart it on the same port.
 */
import { Redis, type RedisOptions } from "ioredis";
import { RedisMemoryServer } from "redis-memory-server";
import { findRedisServer } from "../../server/find-executable";

/** The redis-server on PATH (or REDISMS_SYSTEM_BINARY); never a downloaded one. */
export function systemRedisBinary(): string {
  const binary = findRedisServer();
  if (binary === undefined) {
    throw new Error("redis-server is not on PATH; install it (apt-get install redis-server)");
  }
  return binary;
}

export interface TestRedisOptions {
  /** Extra redis-server arguments, e.g. ["--maxmemory", "10mb"]. */
  args?: string[];
  /** A fixed port; default: a free one. */
  port?: number;
}

export class TestRedis {
  #server: RedisMemoryServer;
  #args: string[];
  #clients = new Set<Redis>();
  readonly host = "127.0.0.1";
  readonly port: number;

  private constructor(server: RedisMemoryServer, port: number, args: string[]) {
    this.#server = server;
    this.port = port;
    this.#args = args;
  }

  static async start(options: TestRedisOptions = {}): Promise<TestRedis> {
    const args = options.args ?? [];
    const server = await TestRedis.#spawn(options.port, args);
    return new TestRedis(server, await server.getPort(), args);
  }

  static async #spawn(port: number | undefined, args: string[]): Promise<RedisMemoryServer> {
    const server = new RedisMemoryServer({
      instance: { ip: "127.0.0.1", port: port ?? null, args },
      binary: { systemBinary: systemRedisBinary() },
    });
    // get-port keeps ports it handed out "locked" for a while and would move a
    // restart to another port; the previous-instance setting bypasses it.
    if (port !== undefined) server._previousInstanceConfig = { port };
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  /** The redis-server process id (for signals). */
  get pid(): number {
    const info = this.#server.getInstanceInfo();
    const pid = info ? info.childProcess?.pid : undefined;
    if (pid === undefined) throw new Error("redis-server is not running");
    return pid;
  }

  /** A new client to this server; closed by stop(). */
  client(options: RedisOptions = {}): Redis {
    const client = new Redis({ host: this.host, port: this.port, ...options });
    client.on("error", () => {
      // Fault tests provoke connection errors on purpose.
    });
    this.#clients.add(client);
    return client;
  }

  /** SIGKILL: the server dies without a clean shutdown (and, as started here, without persistence). */
  async kill(): Promise<void> {
    const info = this.#server.getInstanceInfo();
    const child = info ? info.childProcess : undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
    await this.#server.stop().catch(() => false);
  }

  /** SIGSTOP: the server keeps its sockets open but answers nothing. */
  freeze(): void {
    process.kill(this.pid, "SIGSTOP");
  }

  /** SIGCONT after freeze(). */
  thaw(): void {
    process.kill(this.pid, "SIGCONT");
  }

  /** Starts the server again on the same port (after kill() or stop()). */
  async restart(): Promise<void> {
    if (this.#server.getInstanceInfo()) await this.kill();
    this.#server = await TestRedis.#spawn(this.port, this.#args);
    const port = await this.#server.getPort();
    if (port !== this.port) {
      await this.#server.stop();
      throw new Error(`redis-server came back on port ${port}, not ${this.port}`);
    }
  }

  /** Stops the server cleanly and closes every client made by client(). */
  async stop(): Promise<void> {
    // A second disconnect() of a closed client arms ioredis's 2 s force-close
    // timer, which nothing clears: it would hold the test process that long.
    for (const client of this.#clients) if (client.status !== "end") client.disconnect();
    this.#clients.clear();
    const info = this.#server.getInstanceInfo();
    if (info && info.childProcess) {
      try {
        process.kill(info.childProcess.pid ?? -1, "SIGCONT");
      } catch {
        // already gone
      }
    }
    await this.#server.stop().catch(() => false);
  }
}
