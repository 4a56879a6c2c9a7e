/**
 * Child processes whose stdout is JSON lines (the fault worker, the gateway
 * CLI's pino logs): their events, stdout and stderr, and a safety net that
 * SIGKILLs whatever is still running (call killChildren() in afterAll).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { waitFor } from "./wait";

export const ROOT = join(__dirname, "..", "..");
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
