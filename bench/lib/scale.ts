/**
 * How big each benchmark runs. `full` is what the issue asks for (under 10
 * minutes on the 2-core machine); `quick` finishes in about a minute with
 * smaller client counts and shorter phases; `smoke` only proves every path
 * runs (the smoke test), and its figures mean nothing.
 */
export type ScaleName = "smoke" | "quick" | "full";

export interface Scale {
  name: ScaleName;
  /** Sequential updates per variant in the Redis-work bench, in all. */
  redisWrites: number;
  /** Rounds they are split into, the variants taking turns. */
  redisRounds: number;
  /** Updates per variant counted by callgrind (valgrind runs Redis about 50 times slower). */
  instructionWrites: number;
  /** Writes per path and condition in the writer's-share bench, after 20 warm-up writes. */
  writerCost: { writes: number };
  latency: {
    /** Client counts of the spread scenario. */
    clients: number[];
    /** Clients per scope in the spread scenario. */
    clientsPerScope: number;
    /** Updates per second, all scenarios. */
    rate: number;
    /** Recorded seconds per scenario and path, after `warmup` seconds. */
    seconds: number;
    warmup: number;
    /**
     * The paths of a scenario take turns in this many rounds (seconds / rounds
     * each, a short warm-up before each), so that whatever else the machine
     * does weighs on both alike.
     */
    rounds: number;
    /** The single hot scope: clients, and jobs in it (updated round-robin). */
    hotClients: number;
    hotJobs: number;
    hotRate: number;
  };
  /**
   * Each scope's update rate is deliveries/s ÷ clients whatever the number of
   * scopes, and the gateway sends a scope at most one event per coalescing
   * window (50 ms): the gateway's ceiling is 20 × clients deliveries/s by
   * design, so `clients` must be large enough for the steps: well above, since
   * at 96% of that cap (2,500 clients, 48,000 deliveries/s) the writes'
   * jitter brought updates inside a window and the gateway held them back
   * (p50 36 to 56 ms against the bare server's 12). Fewer scopes mean fewer
   * writes (less load from the writer and Redis) per delivery.
   */
  fanout: {
    clients: number;
    scopes: number;
    stepSeconds: number;
    /** Deliveries per second asked of each step, ascending; the ramp stops at the first failed step. */
    steps: number[];
    /**
     * Ramp pairs run (clients stay connected); each later one climbs from 60%
     * of the lower capacity of the first in finer steps (see fanout.ts). The capacity ratio is the median
     * of the pairs' ratios: a single hiccup of the shared machine ends a ramp.
     */
    repeats: number;
  };
  memory: { counts: number[] };
  join: { count: number; rate: number; jobsPerScope: number };
  restart: { clients: number; scopes: number };
}

export const SCALES: Record<ScaleName, Scale> = {
  smoke: {
    name: "smoke",
    redisWrites: 50,
    redisRounds: 2,
    instructionWrites: 20,
    writerCost: { writes: 20 },
    latency: {
      clients: [10],
      clientsPerScope: 2,
      rate: 50,
      seconds: 0.5,
      warmup: 0.2,
      rounds: 1,
      hotClients: 10,
      hotJobs: 2,
      hotRate: 50,
    },
    fanout: { clients: 20, scopes: 5, stepSeconds: 0.5, steps: [100, 200], repeats: 1 },
    memory: { counts: [20, 40] },
    join: { count: 20, rate: 100, jobsPerScope: 2 },
    restart: { clients: 20, scopes: 10 },
  },
  quick: {
    name: "quick",
    redisWrites: 3000,
    redisRounds: 10,
    instructionWrites: 300,
    writerCost: { writes: 300 },
    latency: {
      clients: [100, 300],
      clientsPerScope: 5,
      rate: 200,
      seconds: 1.5,
      warmup: 0.5,
      rounds: 2,
      hotClients: 100,
      hotJobs: 10,
      hotRate: 100,
    },
    fanout: {
      clients: 1000,
      scopes: 20,
      stepSeconds: 1,
      steps: [4000, 8000, 12_000],
      repeats: 1,
    },
    memory: { counts: [500, 1000] },
    join: { count: 200, rate: 100, jobsPerScope: 3 },
    restart: { clients: 200, scopes: 50 },
  },
  full: {
    name: "full",
    redisWrites: 16_000,
    redisRounds: 40,
    instructionWrites: 1000,
    writerCost: { writes: 1500 },
    latency: {
      clients: [100, 1000],
      clientsPerScope: 5,
      rate: 200,
      seconds: 8,
      warmup: 1,
      rounds: 8,
      hotClients: 100,
      hotJobs: 10,
      hotRate: 100,
    },
    fanout: {
      clients: 4000,
      scopes: 40,
      stepSeconds: 3,
      steps: [
        4000, 8000, 12_000, 16_000, 20_000, 24_000, 28_000, 32_000, 36_000, 40_000, 44_000, 48_000,
        52_000, 56_000,
      ],
      repeats: 3,
    },
    memory: { counts: [1000, 5000] },
    join: { count: 1000, rate: 100, jobsPerScope: 3 },
    restart: { clients: 1000, scopes: 100 },
  },
};
