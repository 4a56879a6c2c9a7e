/**
 * Records every command a redis-server receives (MONITOR), to prove none was sent.
 *
 * It reads MONITOR on a plain socket rather than through ioredis's `monitor()`:
 * ioredis enters its monitoring state only a microtask after MONITOR's `+OK`,
 * so a command that another client sends at that moment arrives in the same
 * read and fails with "Command queue state error" (seen in CI on an `info`).
 */
import { once } from "node:events";
import { createConnection, type Socket } from "node:net";
import type { TestRedis } from "./redis-server";

export interface CommandLog {
  /** Commands seen so far, as MONITOR prints their arguments. */
  readonly commands: string[][];
  /** Sends a marker ECHO and waits until MONITOR saw it, so every earlier command has been logged. */
  sync(): Promise<void>;
  stop(): Promise<void>;
}

const ESCAPES: Record<string, string> = {
  n: "\n",
  r: "\r",
  t: "\t",
  a: "\u0007",
  b: "\b",
  '"': '"',
  "\\": "\\",
};

/**
 * The arguments of one MONITOR line, `<time> [<db> <client>] "arg" "arg"...`,
 * each quoted and escaped as Redis's sdscatrepr writes them.
 */
export function parseMonitorLine(line: string): string[] {
  const start = line.indexOf("] ");
  if (start < 0) throw new Error(`not a MONITOR line: ${JSON.stringify(line)}`);
  const args: string[] = [];
  let i = start + 2;
  while (i < line.length) {
    if (line[i] === " ") {
      i++;
      continue;
    }
    if (line[i] !== '"') throw new Error(`unquoted argument at ${i}: ${JSON.stringify(line)}`);
    // Bytes outside printable ASCII come as \xHH: collect bytes, decode UTF-8 once.
    const bytes: number[] = [];
    for (i++; line[i] !== '"'; i++) {
      if (i >= line.length) throw new Error(`unterminated argument: ${JSON.stringify(line)}`);
      const c = line[i] as string;
      if (c !== "\\") {
        bytes.push(c.charCodeAt(0));
        continue;
      }
      const e = line[++i] ?? "";
      if (e === "x") {
        bytes.push(Number.parseInt(line.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        bytes.push((ESCAPES[e] ?? e).charCodeAt(0));
      }
    }
    i++;
    args.push(Buffer.from(bytes).toString("utf8"));
  }
  return args;
}

export async function monitorCommands(redis: TestRedis): Promise<CommandLog> {
  // Connected (and past its ready check's INFO) before MONITOR starts, so that
  // the log holds only what the test causes.
  const pinger = redis.client();
  await pinger.ping();
  const commands: string[][] = [];
  const markers = new Map<string, () => void>();
  const socket: Socket = createConnection({ host: redis.host, port: redis.port });
  await once(socket, "connect");
  socket.setEncoding("latin1");
  let buffered = "";
  let acknowledged: () => void = () => undefined;
  const ok = new Promise<void>((resolve) => (acknowledged = resolve));
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf("\r\n")) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (line === "+OK") {
        acknowledged();
        continue;
      }
      if (!line.startsWith("+"))
        throw new Error(`unexpected MONITOR reply: ${JSON.stringify(line)}`);
      const args = parseMonitorLine(line.slice(1));
      const marker = args[0]?.toLowerCase() === "echo" ? markers.get(args[1] ?? "") : undefined;
      if (marker) marker();
      else commands.push(args);
    }
  });
  socket.write("MONITOR\r\n");
  await ok;
  let n = 0;
  return {
    commands,
    async sync() {
      const marker = `monitor-marker-${++n}`;
      const seen = new Promise<void>((resolve) => markers.set(marker, resolve));
      await pinger.echo(marker);
      await seen;
      markers.delete(marker);
    },
    async stop() {
      socket.destroy();
      pinger.disconnect();
    },
  };
}
