/**
 * RedisProgress: the worker-side tracker.
 *
 * The hot path is `tick()`: an addition and a comparison against the count at
 * which the integer percent next changes. Only when that boundary is crossed
 * does it read the clock and decide between writing now and arming a trailing
 * write (see `#recompute`). Writes are serialized and coalesced by `#requestWrite`.
 *
 * Control and composition ride on the same writes: the write script's reply
 * carries a cancel request (`signal`, the `"cancel"` event), and a child's
 * writes roll up into its parent inside the script (`child()`, `parent`).
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { Emitter } from "../emitter";
import { InvalidArgumentError } from "../errors/invalid-argument-error";
import { RedisProgressError } from "../errors/redis-progress-error";
import { TimeoutError } from "../errors/timeout-error";
import { boundaryAfter, type JobStatus, type JsonObject } from "../job";
import {
  scopeKeys,
  validateJobId,
  validatePrefix,
  writersKey,
  DEFAULT_PREFIX,
  type ScopeKeys,
} from "../keys";
import { formatScope } from "../scope";
import { requestCancel, type CancelResult } from "./cancel";
import { acquireConnection, type Connection, type RedisOption } from "./connection";
import { forEach, type ForEachOptions } from "./for-each";
import { find, jobs, remove, type Job } from "./queries";
import {
  DEFAULTS,
  type ChildOptions,
  type RedisProgressOptions,
  type ScopeOptions,
} from "./options";
import { publishCommand, runScript, sendPing, sendScript } from "./scripts";
import { Deadlines, timerDelay } from "./deadlines";
import { delay } from "./timing";
import {
  baseFromReply,
  nextBase,
  prebuild,
  type BuildBase,
  type BuildInput,
  type Built,
} from "./prebuilt";
import { PREBUILT_META, packConstants, packNumbers } from "./write-args";
import {
  encodeMeta,
  errorMessage,
  validateCount,
  validateDuration,
  validateName,
  validateWeight,
} from "./validate";

/** Events of a tracker. */
export interface RedisProgressEvents {
  /** A write failed; it is retried with the next one. Without a listener, the first is logged once. */
  error: (error: Error) => void;
  /** A write was stored; `seq` is the job's new sequence number. */
  write: (info: { seq: number }) => void;
  /**
   * Someone asked this running job to stop (the gateway's `cancel`, or
   * `RedisProgress.requestCancel`); fires once, when a write's reply carries the
   * request. `signal` aborts at the same moment. End the job with `cancel()`.
   */
  cancel: (info: { requestedAt: Date }) => void;
  /**
   * The job ended: its final write was stored (`finish()`, `fail()`,
   * `cancel()`), or a write's reply showed it ended elsewhere (a parent that
   * completes with its children, or another process sharing the job), after
   * which this tracker writes no more.
   */
  end: (info: { status: JobStatus }) => void;
}

/** EMA smoothing of the rate, as tqdm's default: the newest sample weighs 0.3. */
export const RATE_SMOOTHING = 0.3;

/** A write the script ran: its reply, and what the tracker sent with it. */
interface SentWrite {
  reply: unknown;
  /** The prebuilt value sent, if any (the script stored it when it replies 1). */
  built: Built | null;
  /** The tracker's own count and errors the write applied. */
  applied: { count: number; errors: number };
}

let warnedNoListener = false;

function isEnded(status: string | undefined): status is Exclude<JobStatus, "running"> {
  return status === "completed" || status === "failed" || status === "canceled";
}

function percentOf(count: number, total: number): number {
  if (total === 0 || count >= total) return 100;
  return Math.floor((count * 100) / total);
}

export class RedisProgress extends Emitter<RedisProgressEvents> {
  /** The job id (the hash field). */
  readonly id: string;
  /** The canonical scope string. */
  readonly scope: string;
  /** Resolves once the 0% marker is stored; rejects with a TimeoutError after `timeout`. */
  readonly ready: Promise<void>;

  /** Replaced only when flush() retries a failed end call (see #retryEnd). */
  #conn: Connection;
  readonly #keys: ScopeKeys;
  readonly #writers: string;
  readonly #tid = randomBytes(6).toString("hex");
  readonly #interval: number;
  readonly #heartbeat: number;
  readonly #retention: number;
  readonly #timeout: number;
  readonly #writeTimeout: number;
  /** start() failed and dropped this tracker: no write goes out any more. */
  #dropped = false;
  readonly #startedAt = new Date().toISOString();
  /** What `child()` passes on. */
  readonly #redisOption: RedisOption | undefined;
  readonly #prefix: string;
  readonly #parent: string;
  readonly #weight: number;
  readonly #withChildren: boolean;
  readonly #abort = new AbortController();

  #count = 0;
  #errors = 0;
  #total: number;
  #percent: number;
  #nextBoundary: number;
  #status: JobStatus = "running";
  #error = "";
  #name: string;
  #meta: string;
  /** Digest of the name this tracker sends (the write script's token); "" = never prebuild. */
  #token = "";
  /** The write script's constant argument, packed on the first write. */
  #constants: string | undefined;

  /** What the next write may be prebuilt on (see prebuilt.ts); null = the full path. */
  #base: BuildBase | null = null;
  #seq = 0;
  #eta: Date | null = null;
  #rate: number | null = null;
  /** performance.now() of the last write sent (monotonic: it only schedules). */
  #lastWriteAt = -Infinity;
  /** A change waits for the trailing write (a write reading the state clears it). */
  #changed = false;
  #trailing: NodeJS.Timeout | undefined;
  #beat: NodeJS.Timeout | undefined;
  /** The writes' timeouts (`writeTimeout`, and `timeout` of flush() and the end calls). */
  readonly #deadlines = new Deadlines();
  #inFlight: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  /** The last write command sent, until the connection settles it (see `#command`). */
  #unsettled: Promise<void> | null = null;
  #ended: Promise<void> | null = null;
  /** The parent's tracker when this one was made by its `child()`: told when a roll-up ends it. */
  #parentTracker: RedisProgress | null = null;

  /**
   * Validates the options (throwing synchronously, before any Redis command) and
   * starts writing the 0% marker; `await pace.ready` to know it is stored.
   */
  constructor(options: RedisProgressOptions) {
    super();
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Expected an options object");
    }
    this.scope = formatScope(options.scope);
    const prefix = validatePrefix(options.prefix ?? DEFAULT_PREFIX);
    this.#prefix = prefix;
    this.#total = validateCount("total", options.total);
    this.id = options.id === undefined ? randomUUID() : validateJobId(options.id);
    this.#parent = options.parent === undefined ? "" : validateJobId(options.parent);
    if (this.#parent === this.id) {
      throw new InvalidArgumentError(`Expected \`parent\` to differ from the job's own id`);
    }
    this.#weight = validateWeight(options.weight ?? 1);
    if (
      options.completeWithChildren !== undefined &&
      typeof options.completeWithChildren !== "boolean"
    ) {
      throw new InvalidArgumentError("Expected `completeWithChildren` to be a boolean");
    }
    this.#withChildren = options.completeWithChildren === true;
    this.#name = options.name === undefined ? "" : validateName(options.name);
    this.#meta = options.meta === undefined ? "" : encodeMeta(options.meta);
    // A tracker prebuilds its writes (see prebuilt.ts) on the value its last
    // write stored while the stored state carries this token. Children and
    // parents that complete with their children always take the script's full
    // path (they roll up).
    this.#token =
      this.#parent !== "" || this.#withChildren
        ? ""
        : createHash("sha1").update(this.#name).digest("base64").slice(0, 16);
    this.#interval = validateDuration("interval", options.interval ?? DEFAULTS.interval);
    this.#heartbeat = validateDuration("heartbeat", options.heartbeat ?? DEFAULTS.heartbeat);
    this.#retention = validateDuration("retention", options.retention ?? DEFAULTS.retention);
    this.#timeout = validateDuration("timeout", options.timeout ?? DEFAULTS.timeout);
    this.#writeTimeout = validateDuration(
      "writeTimeout",
      options.writeTimeout ?? DEFAULTS.writeTimeout,
    );
    if (this.#heartbeat >= this.#retention) {
      throw new RangeError(
        `Expected \`heartbeat\` (${this.#heartbeat}) to be below \`retention\` (${this.#retention})`,
      );
    }
    this.#redisOption = options.redis;
    this.#conn = acquireConnection(options.redis, this.#writeTimeout);
    this.#keys = scopeKeys(prefix, this.scope, this.#conn.cluster);
    this.#writers = writersKey(this.#keys, this.id);
    this.#percent = percentOf(0, this.#total);
    this.#nextBoundary = boundaryAfter(this.#percent, this.#total);
    this.ready = this.#persist("the initial write");
    // `ready` may go unawaited; its failure is also reported on "error".
    this.ready.catch(() => {});
  }

  /** Constructs a tracker and resolves once its 0% marker is stored. */
  static async start(options: RedisProgressOptions): Promise<RedisProgress> {
    const pace = new RedisProgress(options);
    try {
      await pace.ready;
    } catch (error) {
      pace.#abandon();
      throw error;
    }
    return pace;
  }

  /** Every job of a scope, by id, with Date fields and `stalled` marked (the seed's). */
  static jobs(options: ScopeOptions): Promise<Record<string, Job>> {
    return jobs(options);
  }

  /** One job of a scope, or null. */
  static find(options: ScopeOptions & { id: string }): Promise<Job | null> {
    return find(options);
  }

  /**
   * Asks the worker of a running job to stop (what the gateway's `cancel` does,
   * for Node backends). Resolves once `cancel_requested_at` is stored.
   * @throws NotFoundError for an unknown job, ConflictError for a job that has ended.
   */
  static requestCancel(options: ScopeOptions & { id: string }): Promise<CancelResult> {
    return requestCancel(options);
  }

  /** Removes one job, or all jobs of the scope when `id` is omitted; resolves to the number removed. */
  static remove(options: ScopeOptions & { id?: string }): Promise<number> {
    return remove(options);
  }

  /**
   * Calls `fn` per item with a tracker around the loop: ticks after each item,
   * finishes when the loop ends, fails (and rethrows) when it throws.
   */
  static forEach<T>(
    items: Iterable<T> | AsyncIterable<T>,
    options: ForEachOptions,
    fn: (item: T, index: number, pace: RedisProgress) => unknown,
  ): Promise<RedisProgress> {
    return forEach(items, options, fn);
  }

  /** Items processed so far by this tracker. */
  get count(): number {
    return this.#count;
  }

  get total(): number {
    return this.#total;
  }

  /** Integer percent of this tracker's view (0..100). */
  get percent(): number {
    return this.#percent;
  }

  /** Estimated finish time from the last stored write (the smoothed rate), or null until there is a rate. */
  get eta(): Date | null {
    return this.#eta;
  }

  /** Smoothed items per second from the last stored write, or null. */
  get rate(): number | null {
    return this.#rate;
  }

  /**
   * Aborts when a cancel of this job was requested (or of its parent, for a
   * child). The request reaches the worker with the reply to its next write:
   * within one `interval` while the percent moves, one `heartbeat` otherwise.
   */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** True once a cancel was requested (see `signal`). */
  get cancelRequested(): boolean {
    return this.#abort.signal.aborted;
  }

  /** The parent job's id, or undefined for a job without a parent. */
  get parent(): string | undefined {
    return this.#parent === "" ? undefined : this.#parent;
  }

  /** This job's share of its parent. */
  get weight(): number {
    return this.#weight;
  }

  /** `running` until `finish()`, `fail()` or `cancel()`, or until a reply shows the job ended elsewhere (the `end` event). */
  get status(): JobStatus {
    return this.#status;
  }

  /** The job's sequence number as of the last stored write. */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Counts `n` processed items (default 1). Synchronous and never throws for
   * Redis trouble; a bad `n` throws an InvalidArgumentError.
   */
  tick(n = 1): void {
    if (n !== 1) validateCount("n", n);
    this.#count += n;
    if (this.#count >= this.#nextBoundary) this.#recompute();
  }

  /** Sets the count absolutely (for jobs that know how far they are rather than how much they did). */
  update(count: number): void {
    this.#count = validateCount("count", count);
    this.#recompute();
  }

  /** Changes the total mid-job. */
  setTotal(total: number): void {
    this.#total = validateCount("total", total);
    this.#recompute();
  }

  /** Replaces the stored `meta` object; written with the next write (at most `interval` later). */
  setMeta(meta: JsonObject): void {
    this.#meta = encodeMeta(meta);
    this.#scheduleWrite();
  }

  /** The stored `meta`, as set. */
  get meta(): JsonObject {
    return this.#meta === "" ? {} : (JSON.parse(this.#meta) as JsonObject);
  }

  /** Counts `n` item errors (stored as `error_count`) without failing the job. */
  error(n = 1): void {
    this.#errors += validateCount("n", n);
    this.#scheduleWrite();
  }

  /**
   * Writes the current state now; resolves when stored, rejects with a
   * TimeoutError after `timeout`. Once the job has ended, the end call's write
   * holds the final state: flush() waits for that one (and retries it if it
   * failed).
   */
  flush(): Promise<void> {
    const ended = this.#ended;
    if (ended === null) return this.#persist("flush()");
    // If that write failed, this one tries the final state again, unless
    // another flush() already is: then it waits for that one.
    return ended.catch(() => (this.#ended === ended ? this.#retryEnd() : this.flush()));
  }

  /**
   * The end call's write failed, and the tracker let its connection go with it
   * (a process whose last job could not be ended must still be able to exit).
   * The retry takes the connection again (for a URL, the shared one, or a new
   * one if nobody else held it) and gives it back once done. Once stored, the
   * end call and later flush() calls resolve, and "end" is emitted.
   */
  #retryEnd(): Promise<void> {
    this.#conn = acquireConnection(this.#redisOption, this.#writeTimeout);
    return this.#storeEnd("flush()");
  }

  /** Marks the job completed (100%, `finished_at`); resolves when stored. Idempotent. */
  finish(): Promise<void> {
    return this.#end("completed");
  }

  /** Marks the job failed with the error's message; resolves when stored. Idempotent. */
  fail(error?: unknown): Promise<void> {
    if (this.#ended === null) this.#error = errorMessage(error ?? "failed");
    return this.#end("failed");
  }

  /** Marks the job canceled (status `canceled`, `finished_at`); resolves when stored. Idempotent. */
  cancel(): Promise<void> {
    return this.#end("canceled");
  }

  /**
   * Starts a child job of this one in the same scope, on the same connection
   * and timings: each of its writes also moves this job's aggregate (percent,
   * `fraction`, ETA), in the same script. A child that is not in this process
   * is a tracker constructed with `parent: pace.id` (and `weight`).
   */
  child(options: ChildOptions): RedisProgress {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Expected an options object");
    }
    const child = new RedisProgress({
      redis: this.#redisOption,
      prefix: this.#prefix,
      scope: this.scope,
      total: options.total,
      weight: options.weight,
      name: options.name,
      id: options.id,
      meta: options.meta,
      parent: this.id,
      interval: this.#interval,
      heartbeat: this.#heartbeat,
      retention: this.#retention,
      timeout: this.#timeout,
      writeTimeout: this.#writeTimeout,
    });
    child.#parentTracker = this;
    return child;
  }

  /**
   * The count or total changed (tick() calls it only when the count reached the
   * next percent boundary: the only place tick() reads the clock, through
   * #scheduleWrite). A changed percent schedules a write.
   */
  #recompute(): void {
    const before = this.#percent;
    this.#percent = percentOf(this.#count, this.#total);
    this.#nextBoundary =
      this.#status === "running" ? boundaryAfter(this.#percent, this.#total) : Infinity;
    if (this.#percent !== before) this.#scheduleWrite();
  }

  /** ms until `period` has passed since the latest write (≤ 0: it has). */
  #untilDue(period: number): number {
    return this.#lastWriteAt + period - performance.now();
  }

  /** Writes now if `interval` has passed since the last write, else arms the trailing write. */
  #scheduleWrite(): void {
    if (this.#status !== "running") return;
    const wait = this.#untilDue(this.#interval);
    if (wait <= 0) {
      this.#background();
      return;
    }
    this.#changed = true;
    if (this.#trailing === undefined) this.#armTrailing(wait);
  }

  #armTrailing(wait: number): void {
    this.#trailing = setTimeout(() => this.#onTrailing(), timerDelay(wait));
    this.#trailing.unref();
  }

  /**
   * Writes do not clear the trailing timer (arming and clearing one per write
   * cost the update's latency more than all else the tracker does before
   * sending it): when it fires, it writes only if a change still waits, once
   * `interval` has passed since the latest write.
   */
  #onTrailing(): void {
    this.#trailing = undefined;
    if (!this.#changed || this.#status !== "running") return;
    const wait = this.#untilDue(this.#interval);
    if (wait > 0) this.#armTrailing(wait);
    else this.#background();
  }

  #background(): void {
    // A write already queued behind the one in flight reads the state when it
    // starts, so it carries this request too. Without this check, a write slower
    // than `interval` (Redis down) made every setMeta()/error()/tick past the
    // interval add a handler to that queued promise: memory and error events
    // grew with the tick rate for as long as the outage lasted.
    if (this.#queued !== null) return;
    this.#requestWrite().catch((error: unknown) => this.#report(error));
  }

  #report(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    if (this.listenerCount("error") > 0) {
      this.emit("error", err);
    } else if (!warnedNoListener) {
      warnedNoListener = true;
      console.warn(
        `redis-progress: a write failed and will be retried (${err.message}). ` +
          'Add an "error" listener to handle this; further errors are not logged.',
      );
    }
  }

  /**
   * Serializes writes: one in flight at most, and one queued behind it that
   * reads the state when it starts, so any number of requests coalesce into it.
   */
  #requestWrite(): Promise<void> {
    if (this.#inFlight === null) {
      const write = this.#send();
      this.#inFlight = write;
      const clear = () => {
        if (this.#inFlight === write) this.#inFlight = null;
      };
      write.then(clear, clear);
      return write;
    }
    this.#queued ??= this.#inFlight
      .catch(() => {})
      .then(() => {
        this.#queued = null;
        return this.#requestWrite();
      });
    return this.#queued;
  }

  async #send(): Promise<void> {
    const attempt = { abandoned: false };
    try {
      const sent = await this.#deadlines.race(
        this.#command(attempt),
        this.#writeTimeout,
        "A progress write",
        "writeTimeout",
      );
      if (sent !== null) this.#onReply(sent);
      else this.#rearm();
    } catch (error) {
      // The write may or may not have run: only the full path can tell.
      this.#base = null;
      this.#rearm();
      throw error;
    } finally {
      attempt.abandoned = true;
    }
  }

  /**
   * A write given up while an older command was still in the connection (a
   * frozen server) never reached the re-arming in #command: without this the
   * job would get no heartbeat (its readers would see it stalled) and a change
   * held back by `interval` would wait for the next call, however long.
   */
  #rearm(): void {
    if (this.#status !== "running") return;
    this.#armHeartbeat();
    if (this.#changed && this.#trailing === undefined) {
      this.#armTrailing(this.#untilDue(this.#interval));
    }
  }

  /**
   * Sends the write command, but never while this tracker's previous one is
   * still in the connection: a write that timed out may yet run (a frozen server
   * wakes up with it in its socket). So a dead server holds at most one command
   * per tracker, not one per `writeTimeout`, and an older write cannot run after
   * a newer one. The state is read when the command goes out: waiting coalesces.
   */
  async #command(attempt: { abandoned: boolean }): Promise<SentWrite | null> {
    while (this.#unsettled !== null) {
      await this.#unsettled;
      // Timed out while waiting: a later write carries the state instead.
      if (attempt.abandoned) return null;
    }
    if (this.#dropped) return null;
    const now = Date.now();
    this.#lastWriteAt = performance.now();
    this.#changed = false;
    this.#constants ??= packConstants({
      scope: this.scope,
      id: this.id,
      trackerId: this.#tid,
      heartbeat: this.#heartbeat,
      retention: this.#retention,
      publish: publishCommand(this.#conn.cluster),
      token: this.#token,
      startedAt: this.#startedAt,
      name: this.#name,
      parent: this.#parent,
      weight: this.#weight,
      completeWithChildren: this.#withChildren,
    });
    const built =
      this.#base !== null && this.#status === "running" && this.#error === ""
        ? this.#prebuild(this.#base, {
            count: this.#count,
            errors: this.#errors,
            total: this.#total,
            lastSeen: this.#seq,
            now,
            alpha: RATE_SMOOTHING,
            heartbeat: this.#heartbeat,
            retention: this.#retention,
            meta: this.#meta,
            token: this.#token,
          })
        : null;
    const numbers = packNumbers({
      count: this.#count,
      errors: this.#errors,
      total: this.#total,
      seq: this.#seq,
      retention: this.#retention,
      alpha: RATE_SMOOTHING,
      now,
      builtOnLength: built?.on.state.length ?? 0,
    });
    const args = [
      numbers,
      this.#status,
      // A prebuilt value ends with this meta: it goes once (see write-6.lua).
      built !== null && this.#meta !== "" ? PREBUILT_META : this.#meta,
      this.#error,
      this.#constants,
      built?.value ?? "",
      built?.on.text ?? "",
      built?.text ?? "",
    ];
    const applied = { count: this.#count, errors: this.#errors };
    const stream = this.#conn.cluster ? undefined : (this.#conn.client as Redis).stream;
    // Redis answers the writer before it delivers the script's PUBLISH: it
    // flushes the client queued last first. The watchers' gateway then waits
    // for a core behind the worker handling its reply (2 cores: +0.14 ms to
    // the update, bench/README.md). A PING in the same packet queues this
    // connection's replies before the message: the gateway gets the update
    // first, the worker its answer ~0.1 ms later, which nothing waits for.
    // One more command (still one round trip); not on a cluster, whose
    // commands go to several nodes' sockets.
    const keys = [this.#keys.hash, this.#keys.expiry, this.#writers];
    let command: Promise<unknown>;
    if (stream === undefined) {
      command = runScript(this.#conn.client, "write", keys, args, { buffers: true });
    } else {
      const client = this.#conn.client as Redis;
      stream.cork();
      try {
        sendPing(client);
        command = sendScript(client, "write", keys, args);
      } finally {
        stream.uncork();
      }
    }
    const settled = command.then(
      () => {},
      () => {},
    );
    this.#unsettled = settled;
    void settled.then(() => {
      if (this.#unsettled === settled) this.#unsettled = null;
    });
    // After the command went out: nothing here delays it.
    this.#armHeartbeat();
    return command.then((reply) => ({ reply, built, applied }));
  }

  /** prebuild(), or null (the full path) should it ever throw: a write must go out. */
  #prebuild(base: BuildBase, input: BuildInput): Built | null {
    try {
      return prebuild(base, input);
    } catch {
      return null;
    }
  }

  #onReply({ reply, built, applied }: SentWrite): void {
    if (reply === 1 && built !== null) {
      // The prebuilt value was stored: the next write builds on it.
      this.#base = nextBase(built, applied);
      if (built.state.seq > this.#seq) this.#seq = built.state.seq;
      this.#eta = built.eta >= 0 ? new Date(built.eta) : null;
      this.#rate = built.rate;
      this.emit("write", { seq: this.#seq });
      return;
    }
    if (!Array.isArray(reply)) return;
    const [seq, cancelBytes, eta, rateBytes, statusBytes, parentBytes, state, tail] = reply as [
      number,
      Buffer,
      number,
      Buffer,
      Buffer | undefined,
      Buffer | undefined,
      Buffer | undefined,
      Buffer | undefined,
    ];
    const cancel = cancelBytes.toString();
    const rate = rateBytes.toString();
    const status = statusBytes?.toString() as JobStatus | undefined;
    const parentStatus = parentBytes?.toString() as JobStatus | undefined;
    this.#base =
      state === undefined || tail === undefined || tail.length === 0
        ? null
        : baseFromReply(state.toString(), tail.toString(), applied);
    if (seq > this.#seq) this.#seq = seq;
    this.#eta = eta >= 0 ? new Date(eta) : null;
    this.#rate = rate === "" ? null : Number(rate);
    this.emit("write", { seq: this.#seq });
    if (cancel !== "" && !this.#abort.signal.aborted && this.#status === "running") {
      this.#abort.abort();
      this.emit("cancel", { requestedAt: new Date(cancel) });
    }
    if (isEnded(status)) this.#endedElsewhere(status);
    const parent = this.#parentTracker;
    if (parent !== null && isEnded(parentStatus)) parent.#endedElsewhere(parentStatus);
  }

  /**
   * A reply showed the stored job ended while this tracker still runs it (its
   * children completed it, or another process ended it; an ended job is
   * final): stop writing, and let `finish()` and the others resolve at once.
   */
  #endedElsewhere(status: JobStatus): void {
    if (this.#ended !== null || this.#status !== "running") return;
    this.#stopAs(status);
    this.emit("end", { status });
  }

  /**
   * Ends this tracker's writing as `status` without a write of its own. A
   * write queued behind the one in flight may still go out; the connection is
   * let go once it has.
   */
  #stopAs(status: JobStatus): void {
    this.#halt(status);
    const pending = this.#queued ?? this.#inFlight ?? Promise.resolve();
    this.#ended = pending.then(
      () => this.#conn.release(),
      () => this.#conn.release(),
    );
  }

  /** Arms the heartbeat unless armed; like the trailing timer, writes leave it be. */
  #armHeartbeat(wait = this.#heartbeat): void {
    if (this.#status !== "running" || this.#beat !== undefined) return;
    this.#beat = setTimeout(() => this.#onBeat(), timerDelay(wait));
    this.#beat.unref();
  }

  /** Writes once `heartbeat` has passed since the latest write (which arms it again). */
  #onBeat(): void {
    this.#beat = undefined;
    if (this.#status !== "running") return;
    const wait = this.#untilDue(this.#heartbeat);
    if (wait > 0) this.#armHeartbeat(wait);
    else this.#background();
  }

  /** No more writes of this tracker's own: no timers, no percent boundary. */
  #halt(status: JobStatus): void {
    this.#status = status;
    this.#nextBoundary = Infinity;
    this.#stopTimers();
  }

  #stopTimers(): void {
    clearTimeout(this.#trailing);
    clearTimeout(this.#beat);
    this.#trailing = undefined;
    this.#beat = undefined;
  }

  /**
   * start() failed, so nobody holds this tracker: it stops writing and lets its
   * connection go. Without this it kept reconnecting (the process could not
   * exit) and, once Redis was back, heartbeated a job its caller was told had
   * not started, so that the job never even looked stalled.
   *
   * The connection goes at once, not once the write in flight settles: that
   * write may be waiting in ioredis's offline queue (Redis down or frozen), and
   * it would run when the server came back before `writeTimeout` gave it up.
   * Closing a connection nobody else uses drops the queue with it. (Another
   * tracker of this process on the same URL keeps the connection, and with it
   * the queued write; nor can a write already in a frozen server's socket be
   * recalled. Such a job then shows as running, and stalled three heartbeats
   * later.)
   */
  #abandon(): void {
    if (this.#ended !== null) return;
    this.#dropped = true;
    this.#halt("canceled");
    this.#ended = this.#conn.release();
  }

  #end(status: JobStatus): Promise<void> {
    if (this.#ended !== null) return this.#ended;
    this.#halt(status);
    const what = status === "completed" ? "finish()" : status === "failed" ? "fail()" : "cancel()";
    return this.#storeEnd(what);
  }

  /**
   * Writes the final state (the status is set): "end" once stored, and the
   * connection let go either way. `#ended` holds the outcome.
   */
  #storeEnd(what: string): Promise<void> {
    const status = this.#status;
    const conn = this.#conn;
    this.#ended = this.#persist(what)
      .then(() => {
        this.emit("end", { status });
      })
      .finally(() => conn.release());
    return this.#ended;
  }

  /** Writes the current state, retrying with backoff until stored or `timeout` has passed. */
  async #persist(what: string): Promise<void> {
    const deadline = performance.now() + this.#timeout;
    let backoff = 50;
    for (;;) {
      const remaining = deadline - performance.now();
      try {
        await this.#deadlines.race(this.#requestWrite(), Math.max(1, remaining), what, "timeout");
        return;
      } catch (error) {
        const left = deadline - performance.now();
        if (
          left <= 0 ||
          (error instanceof RedisProgressError && error.code === "invalid_argument")
        ) {
          this.#report(error);
          throw new TimeoutError(
            `${what} could not be stored within ${this.#timeout} ms (see the \`timeout\` option): ${(error as Error).message}`,
            { cause: error },
          );
        }
        this.#report(error);
        await delay(Math.min(backoff, left));
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }
}
