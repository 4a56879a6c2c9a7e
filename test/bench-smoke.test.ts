/**
 * The benchmark runs end to end: `bench/run.ts --smoke` (every bench with tiny
 * client counts and phases: its own redis-server, gateway, BullMQ relay, bare
 * server and load generator processes) prints its tables and writes them as
 * JSON. The figures of a smoke run mean nothing and are not checked.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(__dirname, "..");
const TITLES = [
  "tick() cost",
  "Redis work per flushed update",
  "Redis instructions per update",
  "Writer's share",
  "End-to-end latency",
  "Fan-out ramp",
  "Fan-out capacity",
  "Memory per idle client",
  "Join → first snapshot",
];

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bench-smoke-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function runBench(args: string[], timeout: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(ROOT, "bench", "run.ts"), ...args],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the bench did not finish within ${timeout} ms:\n${out}`));
    }, timeout);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test("the smoke-scale bench prints every table and writes them as JSON", async () => {
  const { code, out } = await runBench(["--smoke", `--results-dir=${dir}`], 110_000);
  if (code !== 0) throw new Error(`bench exited with ${code}:\n${out}`);

  const headings = out.split("\n").filter((line) => line.startsWith("### "));
  for (const title of TITLES) {
    expect(headings.some((h) => h.startsWith(`### ${title}`) && h.endsWith("[smoke]"))).toBe(true);
  }
  // Markdown tables: a header row, its separator, and at least one data row each.
  const separators = out.split("\n").filter((line) => /^\| (--- \| )*--- \|$/.test(line));
  expect(separators.length).toBe(TITLES.length);

  const files = readdirSync(dir).filter((f) => f.startsWith("bench-smoke-") && f.endsWith(".json"));
  expect(files).toHaveLength(1);
  const json = JSON.parse(readFileSync(join(dir, files[0] as string), "utf8")) as {
    meta: { scale: string };
    tables: { title: string; rows: unknown[][]; notes?: string[] }[];
  };
  expect(json.meta.scale).toBe("smoke");
  expect(json.tables).toHaveLength(TITLES.length);
  for (const table of json.tables) {
    // Without valgrind the instruction count is skipped, and says so.
    const skipped = table.notes?.[0]?.startsWith("Skipped: valgrind") === true;
    if (!(skipped && table.title.startsWith("Redis instructions"))) {
      expect([table.title, table.rows.length > 0]).toEqual([table.title, true]);
    }
  }
}, 120_000);
