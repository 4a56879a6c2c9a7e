/**
 * The gateway's Prometheus metrics, in a registry of its own so that several
 * gateways (or the application's own metrics) can share a process.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { Counter, Gauge, Registry } from "prom-client";

export interface MetricsSources {
  connectedSockets: () => number;
  liveScopes: () => number;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly updatesReceived: Counter;
  readonly updatesEmitted: Counter;
  readonly deliveries: Counter;
  readonly redisErrors: Counter;
  readonly garbage: Counter<"where">;
  readonly subscribes: Counter<"result">;
  readonly slowConsumers: Counter;
  readonly #lag: IntervalHistogram;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    new Gauge({
      name: "redis_progress_connected_sockets",
      help: "Socket.IO clients connected to this gateway",
      registers,
      collect() {
        this.set(sources.connectedSockets());
      },
    });
    new Gauge({
      name: "redis_progress_live_scopes",
      help: "Scopes this gateway is subscribed to",
      registers,
      collect() {
        this.set(sources.liveScopes());
      },
    });
    this.updatesReceived = new Counter({
      name: "redis_progress_updates_received_total",
      help: "Pub/sub messages received for watched scopes",
      registers,
    });
    this.updatesEmitted = new Counter({
      name: "redis_progress_updates_emitted_total",
      help: "progress and snapshot events emitted to scope rooms (after coalescing)",
      registers,
    });
    this.deliveries = new Counter({
      name: "redis_progress_deliveries_total",
      help: "Events delivered to sockets (room events times the room's size)",
      registers,
    });
    this.redisErrors = new Counter({
      name: "redis_progress_redis_errors_total",
      help: "Errors on the gateway's Redis connections and failed Redis operations",
      registers,
    });
    this.garbage = new Counter({
      name: "redis_progress_garbage_values_total",
      help: "Stored or published values skipped because they are not jobs",
      labelNames: ["where"],
      registers,
    });
    this.subscribes = new Counter({
      name: "redis_progress_subscribes_total",
      help: "subscribe requests by result (ok or the error code)",
      labelNames: ["result"],
      registers,
    });
    this.slowConsumers = new Counter({
      name: "redis_progress_slow_consumers_total",
      help: "Sockets disconnected for holding more than limits.maxBufferedBytes unsent",
      registers,
    });
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    this.#lag = lag;
    new Gauge({
      name: "redis_progress_event_loop_lag_seconds",
      help: "Event loop delay since the previous scrape",
      labelNames: ["quantile"],
      registers,
      collect() {
        const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
        this.set({ quantile: "mean" }, seconds(lag.mean));
        this.set({ quantile: "0.99" }, seconds(lag.percentile(99)));
        this.set({ quantile: "max" }, seconds(lag.max));
        lag.reset();
      },
    });
  }

  close(): void {
    this.#lag.disable();
  }
}
