/**
 * Counting Redis work: client side (commands an ioredis client sent, and round
 * trips: batches of writes each waiting on a reply) and server side
 * (`INFO commandstats` and `INFO cpu` between two readings, after CONFIG RESETSTAT).
 */
import type { Redis } from "ioredis";

/** Commands and round trips of one ioredis client, from the moment it is attached. */
export class WireCounter {
  readonly commands = new Map<string, number>();
  roundTrips = 0;
  #answered = true;

  /** Wraps the client's sendCommand and its socket's write (the client must be connected). */
  attach(client: Redis): this {
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((command: { name: string }, stream?: unknown) => {
      this.commands.set(command.name, (this.commands.get(command.name) ?? 0) + 1);
      return send(command as never, stream as never);
    }) as typeof client.sendCommand;
    const socket = client.stream;
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    (socket as unknown as { write: (...args: unknown[]) => boolean }).write = (...args) => {
      // A write after a reply starts a new round trip; writes before any reply share one.
      if (this.#answered) {
        this.roundTrips += 1;
        this.#answered = false;
      }
      return write(...args);
    };
    socket.on("data", () => {
      this.#answered = true;
    });
    return this;
  }

  reset(): void {
    this.commands.clear();
    this.roundTrips = 0;
  }

  get total(): number {
    let n = 0;
    for (const count of this.commands.values()) n += count;
    return n;
  }
}

export interface CommandStat {
  calls: number;
  usec: number;
}

/** Parses `INFO commandstats` into name → { calls, usec }. */
export async function commandStats(client: Redis): Promise<Map<string, CommandStat>> {
  const text = await client.info("commandstats");
  const stats = new Map<string, CommandStat>();
  for (const line of text.split("\n")) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (match) stats.set(match[1] as string, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

/** Redis's own CPU time (user + system), in µs. */
export async function redisCpuUs(client: Redis): Promise<number> {
  const text = await client.info("cpu");
  const field = (name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  return (field("used_cpu_user") + field("used_cpu_sys")) * 1e6;
}

/** Commands that the measuring itself runs, left out of the per-update counts. */
export function isOverhead(name: string): boolean {
  return /^(info|config|client|ping|select|hello|echo|subscribe|unsubscribe)/.test(name);
}
