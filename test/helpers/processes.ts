/** Child processes running TypeScript fixtures through tsx, killed at the end of a suite. */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

const running = new Set<ChildProcess>();
// `--import tsx` runs the fixture in this very process; the tsx CLI would fork a
// child that a SIGKILL of its parent leaves running.
const TSX_ARGS = ["--import", "tsx"];

export interface Fixture {
  readonly child: ChildProcess;
  /** Resolves when the process printed `line` on stdout. */
  waitForLine(line: string, timeout?: number): Promise<void>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** What the process printed on stdout so far. */
  output(): string;
}

export function runFixture(file: string, env: Record<string, string>): Fixture {
  const child = spawn(process.execPath, [...TSX_ARGS, join(__dirname, "..", "fixtures", file)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    exited,
    output: () => out,
    waitForLine(line, timeout = 30_000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => {
          reject(new Error(`${file} did not print "${line}" within ${timeout} ms; stderr: ${err}`));
        }, timeout);
        const check = () => {
          if (out.split("\n").includes(line)) {
            clearTimeout(deadline);
            child.stdout?.off("data", check);
            resolve();
          }
        };
        child.stdout?.on("data", check);
        child.once("exit", (code) => {
          if (!out.split("\n").includes(line)) {
            clearTimeout(deadline);
            reject(new Error(`${file} exited with ${code} before "${line}"; stderr: ${err}`));
          }
        });
        check();
      });
    },
  };
}

/** Kills every fixture still running (call in afterAll). */
export function killFixtures(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
}
