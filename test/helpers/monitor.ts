/** Records every command a redis-server receives (MONITOR), to prove none was sent. */
import type { Redis } from "ioredis";
import type { TestRedis } from "./redis-server";

export interface CommandLog {
  /** Commands seen so far, as MONITOR prints their arguments. */
  readonly commands: string[][];
  /** Sends a marker PING and waits until MONITOR saw it, so every earlier command has been logged. */
  sync(): Promise<void>;
  stop(): Promise<void>;
}

export async function monitorCommands(redis: TestRedis): Promise<CommandLog> {
  const client: Redis = redis.client();
  const monitor = await client.monitor();
  const commands: string[][] = [];
  const markers = new Map<string, () => void>();
  monitor.on("monitor", (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === "echo" && typeof args[1] === "string" && markers.has(args[1])) {
      markers.get(args[1])?.();
      return;
    }
    commands.push(args);
  });
  const pinger = redis.client();
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
      monitor.disconnect();
      pinger.disconnect();
      client.disconnect();
    },
  };
}
