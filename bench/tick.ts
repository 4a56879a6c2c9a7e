/**
 * tick() cost: ns per call above a bare loop, next to the seed's naive rule
 * (read the clock on every tick) and cli-progress's increment() with no output.
 */
import { Writable } from "node:stream";
import { SingleBar } from "cli-progress";
import { RedisProgress } from "../shared";
import { median, type Table } from "./lib/report";

export interface TickOptions {
  redisUrl: string;
  quick: boolean;
}

/** The seed's rule, as users write it by hand: read the clock on every tick. */
class NaiveTracker {
  count = 0;
  #last = 0;
  #lastPercent = -1;
  writes = 0;
  constructor(readonly total: number) {}
  tick(): void {
    this.count += 1;
    const now = Date.now();
    const percent = Math.floor((this.count * 100) / this.total);
    if (now - this.#last >= 2000 && percent !== this.#lastPercent) {
      this.#last = now;
      this.#lastPercent = percent;
      this.writes += 1;
    }
  }
}

function timeLoop(n: number, body: (i: number) => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) body(i);
  return Number(process.hrtime.bigint() - start) / n;
}

export async function benchTick(options: TickOptions): Promise<Table> {
  const n = options.quick ? 5_000_000 : 20_000_000;
  const rounds = options.quick ? 5 : 9;
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const results: Record<string, number[]> = { bare: [], tick: [], naive: [], cli: [] };
  let keep = 0;

  for (let round = 0; round < rounds; round++) {
    let x = 0;
    results.bare!.push(
      timeLoop(n, () => {
        x += 1;
      }),
    );
    keep += x;

    const pace = new RedisProgress({ redis: options.redisUrl, scope: "bench:tick", total: n });
    await pace.ready;
    results.tick!.push(timeLoop(n, () => pace.tick()));
    await pace.finish();

    const naive = new NaiveTracker(n);
    results.naive!.push(timeLoop(n, () => naive.tick()));
    keep += naive.writes;

    const bar = new SingleBar(
      { stream: sink as unknown as NodeJS.WriteStream, noTTYOutput: false },
      undefined,
    );
    bar.start(n, 0);
    // cli-progress is far slower per call; fewer iterations keep the run short.
    results.cli!.push(timeLoop(Math.floor(n / 10), () => bar.increment()));
    bar.stop();
  }
  if (keep === 0) console.log("");

  const bare = median(results.bare!);
  const row = (name: string, key: string, note: string) => {
    const ns = median(results[key]!);
    return [name, ns, Math.max(0, ns - bare), note];
  };
  return {
    title: "tick() cost (ns per call, median of rounds)",
    columns: ["variant", "ns/call", "ns above bare loop", "what it does"],
    rows: [
      ["bare loop", bare, 0, "`x += 1`"],
      row("redis-progress tick()", "tick", "add + compare; clock only at a percent boundary"),
      row(
        "naive rule (clock every tick)",
        "naive",
        "Date.now() + percent on every tick (the seed's rule)",
      ),
      row("cli-progress increment()", "cli", "no terminal output"),
    ],
    notes: [
      `${n.toLocaleString("en-US")} calls per round, ${rounds} rounds; target: ≤ 3 ns above the bare loop.`,
    ],
  };
}
