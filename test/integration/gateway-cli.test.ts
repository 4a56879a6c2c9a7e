/**
 * The command line as a newcomer runs it: `redis-progress serve` in demo mode
 * with REDIS_URL unset starts an embedded redis-server, answers /healthz,
 * runs demo jobs, and exits 0 on SIGTERM leaving no redis-server behind.
 * Also `redis-progress token` and the refusal to start without PACE_SECRET.
 *
 * The CLI runs as `node --import tsx server/cli.ts`, one process, so that
 * SIGTERM reaches the gateway itself: `npx` does not forward SIGTERM to its
 * child, and the `tsx` wrapper SIGKILLs its child when the child does not
 * acknowledge a relayed signal within 30 ms, which a busy machine can miss.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { io } from "socket.io-client";
import { verifyToken } from "../../server";
import { TEST_SECRET, connected, subscribe, waitFor } from "../helpers/gateway";
import { TestRedis } from "../helpers/redis-server";

const ROOT = join(__dirname, "..", "..");
const CLI = join(ROOT, "server", "cli.ts");
/** Node arguments that run the CLI's TypeScript directly. */
const RUN = ["--import", "tsx", CLI];

/** The environment of a newcomer: no Redis, no secret. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of ["REDIS_URL", "REDIS_CLUSTER_NODES", "PACE_SECRET", "PACE_PREFIX", "HOST"]) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let child: ChildProcess | undefined;
let redisPid: number | undefined;

afterAll(() => {
  // Only if a test failed half-way: never leave processes behind.
  if (child?.exitCode === null) child.kill("SIGKILL");
  if (redisPid !== undefined && alive(redisPid)) process.kill(redisPid, "SIGKILL");
});

interface Cli {
  proc: ChildProcess;
  /** The JSON log lines so far. */
  lines: Record<string, unknown>[];
  /** stdout and stderr so far. */
  output: () => string;
  exited: Promise<number | null>;
}

/** Spawns the CLI with `args`, collecting its log lines; `child` tracks it for afterAll. */
function spawnCli(args: string[], env: NodeJS.ProcessEnv): Cli {
  const proc = spawn(process.execPath, [...RUN, ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  const lines: Record<string, unknown>[] = [];
  let output = "";
  proc.stdout?.setEncoding("utf8");
  proc.stderr?.setEncoding("utf8");
  proc.stderr?.on("data", (chunk: string) => (output += chunk));
  let partial = "";
  proc.stdout?.on("data", (chunk: string) => {
    output += chunk;
    partial += chunk;
    const complete = partial.split("\n");
    partial = complete.pop() ?? "";
    for (const line of complete) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    proc.once("exit", (code) => resolve(code)),
  );
  return { proc, lines, output: () => output, exited };
}

/**
 * The URL the CLI says it listens on. PORT=0 lets the system choose: a port
 * the test picked and let go could meanwhile be taken, by the embedded
 * redis-server the CLI starts first among others. Fails at once, with the
 * CLI's output, should it exit instead.
 */
function listening(cli: Cli): Promise<string> {
  const url = waitFor(
    () =>
      cli.lines.find(
        (l) => typeof l.url === "string" && String(l.msg).startsWith("gateway listening"),
      )?.url as string | undefined,
    { timeout: 30_000, interval: 50, what: "the gateway to listen" },
  );
  const died = cli.exited.then((code) => {
    throw new Error(`the CLI exited (${code}) before listening: ${cli.output().slice(0, 2000)}`);
  });
  return Promise.race([url, died]);
}

test("serve in demo mode: embedded Redis, /healthz, demo jobs, clean SIGTERM", async () => {
  const cli = spawnCli(["serve"], cleanEnv({ PACE_DEMO: "1", PORT: "0", LOG_LEVEL: "info" }));
  const { proc, lines, output: out, exited } = cli;
  const base = await listening(cli);
  await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, {
    timeout: 30_000,
    interval: 100,
    what: `/healthz on ${base} (output so far: ${out().slice(0, 2000)})`,
  });
  const started = lines.find((l) => typeof l.embeddedRedis === "object") as
    { embeddedRedis: { url: string; pid: number }; msg: string } | undefined;
  expect(started?.msg).toMatch(/REDIS_URL is not set: started an embedded redis-server/);
  redisPid = started?.embeddedRedis.pid;
  expect(typeof redisPid).toBe("number");
  expect(alive(redisPid as number)).toBe(true);
  expect(lines.some((l) => String(l.msg).includes(`open ${base}/ in a browser`))).toBe(true);

  // The dashboard's token endpoint, then demo jobs in every demo scope.
  const { token, scopes } = (await (await fetch(`${base}/demo/token`)).json()) as {
    token: string;
    scopes: string[];
  };
  expect(scopes).toEqual(["user:*"]);
  for (const scope of ["user:1", "user:2", "user:3"]) {
    await waitFor(
      async () => {
        const res = await fetch(`${base}/api/jobs?scope=${scope}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as { jobs: Record<string, unknown> };
        return Object.keys(body.jobs).length > 0;
      },
      { timeout: 15_000, interval: 100, what: `demo jobs in ${scope}` },
    );
  }
  // ...and live over Socket.IO.
  const socket = io(base, {
    auth: { token },
    transports: ["websocket"],
    autoConnect: false,
    reconnection: false,
  });
  await connected(socket);
  const progress = new Promise((resolve) => socket.once("progress", resolve));
  expect((await subscribe(socket, "user:1")).ok).toBe(true);
  await progress;
  socket.disconnect();

  proc.kill("SIGTERM");
  expect(await exited).toBe(0);
  await waitFor(() => !alive(redisPid as number), {
    timeout: 5000,
    what: "the embedded redis-server to be gone",
  });
  expect(out()).not.toContain(token);
  expect(lines.some((l) => l.msg === "stopped")).toBe(true);
}, 90_000);

test("demo (npm start) runs on an embedded Redis even with REDIS_URL and REDIS_CLUSTER_NODES set", async () => {
  // What `npm start` runs, checked here without npm (and its client build).
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  expect(pkg.scripts.start).toMatch(/&& node --import tsx server\/cli\.ts demo$/);

  // A Redis the shell exported for real work: the demo must not write to it.
  const outside = await TestRedis.start();
  try {
    const cli = spawnCli(
      ["demo"],
      cleanEnv({
        PORT: "0",
        LOG_LEVEL: "info",
        REDIS_URL: outside.url,
        REDIS_CLUSTER_NODES: `127.0.0.1:${outside.port}`,
      }),
    );
    const { proc, lines, exited } = cli;
    const base = await listening(cli);
    await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, {
      timeout: 30_000,
      interval: 100,
      what: `/healthz on ${base}`,
    });
    const started = lines.find((l) => typeof l.embeddedRedis === "object") as
      { embeddedRedis: { url: string; pid: number } } | undefined;
    redisPid = started?.embeddedRedis.pid;
    expect(typeof redisPid).toBe("number");
    expect(started?.embeddedRedis.url).not.toBe(outside.url);
    expect(lines.find((l) => Array.isArray(l.ignored))?.ignored).toEqual([
      "REDIS_URL",
      "REDIS_CLUSTER_NODES",
    ]);

    // Demo jobs are written (to the embedded Redis)...
    const { token } = (await (await fetch(`${base}/demo/token`)).json()) as { token: string };
    await waitFor(
      async () => {
        const res = await fetch(`${base}/api/jobs?scope=user:1`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as { jobs: Record<string, unknown> };
        return Object.keys(body.jobs).length > 0;
      },
      { timeout: 15_000, interval: 100, what: "demo jobs in user:1" },
    );
    // ...and none of them reached the exported one.
    expect(await outside.client().dbsize()).toBe(0);

    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    await waitFor(() => !alive(redisPid as number), {
      timeout: 5000,
      what: "the embedded redis-server to be gone",
    });
  } finally {
    await outside.stop();
  }
}, 90_000);

test("serve refuses an unknown LOG_LEVEL naming it, with exit 2 like every config error", () => {
  const result = spawnSync(process.execPath, [...RUN, "serve"], {
    cwd: ROOT,
    env: cleanEnv({ PACE_SECRET: TEST_SECRET, PORT: "0", LOG_LEVEL: "verbose" }),
    encoding: "utf8",
    timeout: 30_000,
  });
  expect(result.stderr).toMatch(/LOG_LEVEL.*"verbose"/);
  expect(result.status).toBe(2);
});

test("serve refuses to start without PACE_SECRET outside demo mode", () => {
  const result = spawnSync(process.execPath, [...RUN, "serve"], {
    cwd: ROOT,
    env: cleanEnv({ PORT: "0" }),
    encoding: "utf8",
    timeout: 30_000,
  });
  expect(result.status).toBe(2);
  expect(result.stderr).toMatch(/PACE_SECRET is required/);
});

test("token prints a token the gateway accepts", async () => {
  const result = spawnSync(
    process.execPath,
    [...RUN, "token", "user:1", "org:7:*", "--ttl", "120", "--cancel", "user:1", "--sub", "ops"],
    { cwd: ROOT, env: cleanEnv({ PACE_SECRET: TEST_SECRET }), encoding: "utf8", timeout: 30_000 },
  );
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  const claims = await verifyToken(result.stdout.trim(), new TextEncoder().encode(TEST_SECRET), 0);
  expect(claims.scopes).toEqual(["user:1", "org:7:*"]);
  expect(claims.cancel).toEqual(["user:1"]);
  expect(claims.sub).toBe("ops");
  expect(claims.expiresAt - Date.now()).toBeLessThanOrEqual(120_000);

  const bad = spawnSync(process.execPath, [...RUN, "token", "user:{1}"], {
    cwd: ROOT,
    env: cleanEnv({ PACE_SECRET: TEST_SECRET }),
    encoding: "utf8",
    timeout: 30_000,
  });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/scopes/);
});
