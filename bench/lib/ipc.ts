/**
 * Benchmark child processes and the request/reply protocol over their IPC
 * channel. A child (bench/procs/*.ts) runs through `node --import tsx`, so the
 * process the bench kills is the one doing the work (no tsx wrapper left over).
 *
 * Child side: `serve({ name: handler })` answers `{ id, type, payload }` with
 * `{ id, ok, result | error }`; `announce(message)` sends an unsolicited
 * message (for example "ready"). A child exits when its parent goes away.
 *
 * Parent side: `Child.spawn(file)` then `await child.request(type, payload)`.
 * `BENCH_CPU_PROF=<dir>` makes every child write a V8 CPU profile there when it
 * exits cleanly (through the `exit` request), to find where a figure goes.
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";

type Handler = (payload: unknown) => unknown;

interface Request {
  id: number;
  type: string;
  payload: unknown;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** Child side: answers requests with the given handlers (plus `exit`). */
export function serve(handlers: Record<string, Handler>): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error("A bench child must be started with an IPC channel");
  process.on("message", (raw: unknown) => {
    const message = raw as Partial<Request>;
    if (typeof message?.id !== "number" || typeof message.type !== "string") return;
    const { id, type, payload } = message as Request;
    if (type === "exit") {
      send({ id, ok: true } satisfies Reply, () => process.exit(0));
      return;
    }
    const handler = handlers[type];
    Promise.resolve()
      .then(() => {
        if (handler === undefined) throw new Error(`Unknown request "${type}"`);
        return handler(payload);
      })
      .then(
        (result) => send({ id, ok: true, result } satisfies Reply),
        (error: unknown) =>
          send({
            id,
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          } satisfies Reply),
      );
  });
  // The bench died or was interrupted: do not linger holding ports and sockets.
  process.on("disconnect", () => process.exit(0));
}

/** Child side: sends an unsolicited message to the parent. */
export function announce(message: Record<string, unknown>): void {
  process.send?.({ announce: message });
}

export interface SpawnOptions {
  /** Extra node flags, e.g. `--expose-gc`. */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** A label for error messages. */
  name?: string;
}

/** Parent side: one child process. */
export class Child {
  readonly process: ChildProcess;
  readonly name: string;
  /** Resolves with the child's exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  readonly #announced: Record<string, unknown>[] = [];
  readonly #waiters: { match: (m: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  #next = 1;
  #stderr = "";

  private constructor(child: ChildProcess, name: string) {
    this.process = child;
    this.name = name;
    child.stderr?.on("data", (chunk: Buffer) => {
      if (process.env.BENCH_VERBOSE) process.stderr.write(chunk);
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      if (process.env.BENCH_VERBOSE) process.stdout.write(chunk);
    });
    child.on("message", (raw: unknown) => this.#onMessage(raw));
    this.exited = new Promise((resolve) => {
      child.once("exit", (code) => {
        const error = new Error(`${name} exited (${code}) with requests pending: ${this.#stderr}`);
        for (const pending of this.#pending.values()) pending.reject(error);
        this.#pending.clear();
        resolve(code);
      });
    });
  }

  /** Forks bench/procs/<file> under tsx with an IPC channel. */
  static spawn(file: string, options: SpawnOptions = {}): Child {
    const profile = process.env.BENCH_CPU_PROF;
    const execArgv = [
      "--import",
      "tsx",
      ...(options.nodeArgs ?? []),
      ...(profile ? ["--cpu-prof", "--cpu-prof-interval=100", `--cpu-prof-dir=${profile}`] : []),
    ];
    const child = fork(join(__dirname, "..", "procs", file), [], {
      execArgv,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      // Structured clone: typed arrays and Maps cross the channel as they are.
      serialization: "advanced",
    });
    return new Child(child, options.name ?? file);
  }

  /** Resolves once the child announced a message for which `match` holds (e.g. ready). */
  announced(
    match: (message: Record<string, unknown>) => boolean,
    timeout = 60_000,
  ): Promise<Record<string, unknown>> {
    const seen = this.#announced.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} did not announce in ${timeout} ms: ${this.#stderr}`)),
        timeout,
      );
      const onExit = () =>
        reject(new Error(`${this.name} exited before announcing: ${this.#stderr}`));
      void this.exited.then(onExit);
      this.#waiters.push({
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.#announced.find(match) as Record<string, unknown>);
        },
      });
    });
  }

  /** Sends a request and resolves with the child's result (rejects with its error). */
  request<T = unknown>(type: string, payload?: unknown, timeout = 120_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: "${type}" got no answer within ${timeout} ms`));
      }, timeout);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.process.send({ id, type, payload } satisfies Request, (error) => {
        if (error) this.#pending.get(id)?.reject(error);
      });
    });
  }

  /** Asks the child to exit (writing its CPU profile, if any); kills it after `timeout`. */
  async stop(timeout = 5000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const timer = setTimeout(() => this.process.kill("SIGKILL"), timeout);
    await this.request("exit", undefined, timeout).catch(() => {});
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL (a crash): resolves once the process is gone. */
  async kill(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill("SIGKILL");
    await this.exited;
  }

  #onMessage(raw: unknown): void {
    const message = raw as Partial<Reply> & { announce?: Record<string, unknown> };
    if (message.announce !== undefined) {
      this.#announced.push(message.announce);
      for (const waiter of [...this.#waiters]) {
        if (waiter.match(message.announce)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      return;
    }
    if (typeof message.id !== "number") return;
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(new Error(`${this.name}: ${message.error ?? "failed"}`));
  }
}
