/**
 * The browser SDK: one Socket.IO connection to a gateway, any number of
 * watched scopes. Per scope it keeps a JobStore (merge `progress` by seq,
 * replace on `snapshot`), and after every (re)connection it subscribes again
 * and replaces the scope's jobs with the fresh snapshot, so jobs removed while
 * the connection was down disappear.
 */
import { io, type Socket } from "socket.io-client";
import { Emitter } from "../shared/emitter";
import type { ClientToServerEvents, ServerToClientEvents } from "../shared/events";
import type { JobMap, ProgressMessage } from "../shared/job";
import { validateJobId } from "../shared/keys";
import { formatScope, type ScopeInput } from "../shared/scope";
import {
  RETRYABLE_CODES,
  toClientErrorCode,
  type ClientErrorCode,
  type ConnectionState,
} from "./codes";
import { resolveOptions, type ProgressClientOptions, type ResolvedOptions } from "./options";
import { ProgressClientError } from "./progress-client-error";
import { ServerClock } from "./server-clock";
import { Subscription, type JobsListener, type Registration } from "./subscription";

/** Events of a ProgressClient. */
export interface ProgressClientEvents {
  /** The connection state changed. */
  state: (state: ConnectionState) => void;
  /** A refused handshake, or a refused/failed subscription (`error.scope` names it). */
  error: (error: ProgressClientError) => void;
}

type ProgressSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ProgressClient extends Emitter<ProgressClientEvents> {
  readonly #options: ResolvedOptions;
  readonly #socket: ProgressSocket;
  readonly #subs = new Map<string, Subscription>();
  readonly #clock = new ServerClock();
  #state: ConnectionState = "connecting";
  #everConnected = false;
  #closed = false;
  #reconnectFailures = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #stalledTimer: ReturnType<typeof setInterval> | undefined;

  /** Validates the options (TypeError naming the bad one) and connects unless `autoConnect: false`. */
  constructor(options: ProgressClientOptions) {
    super();
    this.#options = resolveOptions(options);
    this.#socket = io(this.#options.url, {
      ...this.#options.socketOptions,
      autoConnect: false,
      // Called by socket.io before every connection attempt, so getToken can refresh.
      auth: (send) => this.#authenticate(send),
    });
    this.#listen();
    if (this.#options.autoConnect) this.connect();
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The estimated gateway (Redis) time in ms, corrected for this machine's clock skew. */
  now(): number {
    return this.#clock.now();
  }

  /**
   * Watches a scope. The listener is called with the scope's full job map and
   * what changed, first when the snapshot arrives (or at once, in a microtask,
   * if the scope is already loaded), then on every change.
   * @throws InvalidScopeError before anything is sent, for a scope outside the grammar.
   * Each call is a registration of its own, even with a function already
   * registered (which is then called once per registration).
   * @returns the function that ends this registration, and no other (the scope
   *   is left when none remains).
   */
  subscribe(scope: ScopeInput, listener: JobsListener): () => void {
    const name = formatScope(scope);
    if (typeof listener !== "function") throw new TypeError("Expected `listener` to be a function");
    // Its own entry even when the same function is already registered, so that
    // the returned function removes this registration and no other.
    const registration: Registration = { listener };
    let sub = this.#subs.get(name);
    if (sub === undefined) {
      sub = new Subscription(name);
      this.#subs.set(name, sub);
      this.#send(sub);
      this.#armStalledTimer();
    } else if (sub.loaded) {
      const loaded = sub;
      queueMicrotask(() => {
        if (!loaded.listeners.has(registration)) return;
        const jobs = loaded.jobs(this.now());
        listener(jobs, { updated: jobs, removed: [] });
      });
    }
    sub.listeners.add(registration);
    const current = sub;
    return () => {
      current.listeners.delete(registration);
      if (current.listeners.size === 0 && this.#subs.get(name) === current) this.#leave(current);
    };
  }

  /** The current jobs of a watched scope (stalled marked), or an empty map. */
  jobs(scope: ScopeInput): JobMap {
    return this.#subs.get(formatScope(scope))?.jobs(this.now()) ?? {};
  }

  /** True once the scope's snapshot has arrived. */
  loaded(scope: ScopeInput): boolean {
    return this.#subs.get(formatScope(scope))?.loaded ?? false;
  }

  /**
   * True when the gateway said this client's token may cancel jobs of a watched
   * scope (the subscribe ack's `can_cancel`); false until the scope is loaded.
   */
  canCancel(scope: ScopeInput): boolean {
    return this.#subs.get(formatScope(scope))?.canCancel ?? false;
  }

  /**
   * Asks the worker of a running job to stop (needs the token's `cancel` claim).
   * Resolves with `cancel_requested_at` once it is stored; the job's value then
   * shows it, and its status becomes `canceled` when the worker has stopped.
   * @throws InvalidScopeError / InvalidArgumentError before anything is sent.
   * @returns rejects with a ProgressClientError: `forbidden`, `not_found`,
   *   `conflict` (the job has ended), `rate_limited` or `unavailable`.
   */
  cancel(scope: ScopeInput, id: string): Promise<string | undefined> {
    const name = formatScope(scope);
    validateJobId(id);
    return new Promise((resolve, reject) => {
      const fail = (code: ClientErrorCode, text: string) =>
        reject(new ProgressClientError(code, `Cannot cancel ${id} in ${name}: ${text}`, name));
      if (!this.#socket.connected) {
        fail("unavailable", "not connected");
        return;
      }
      this.#socket
        .timeout(this.#options.ackTimeout)
        .emit("cancel", { scope: name, id }, (err, ack) => {
          if (err) fail("unavailable", `no answer within ${this.#options.ackTimeout} ms`);
          else if (typeof ack !== "object" || ack === null) fail("unavailable", "malformed ack");
          else if (ack.ok) resolve(ack.cancel_requested_at);
          else fail(toClientErrorCode(ack.error?.code), ack.error?.message ?? "refused");
        });
    });
  }

  /** The last error of a watched scope's subscription, cleared when a subscribe succeeds. */
  scopeError(scope: ScopeInput): ProgressClientError | undefined {
    return this.#subs.get(formatScope(scope))?.error;
  }

  /** Connects (again): after `autoConnect: false`, or to retry after `unauthorized`. */
  connect(): void {
    this.#closed = false;
    clearTimeout(this.#reconnectTimer);
    // close() stopped the stalled checks; the subscriptions it kept need them.
    if (this.#subs.size > 0) this.#armStalledTimer();
    if (this.#socket.connected) return;
    this.#setState(this.#everConnected ? "reconnecting" : "connecting");
    this.#socket.connect();
  }

  /** Closes the connection and stops every timer; listeners stay registered until unsubscribed. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#stalledTimer);
    this.#stalledTimer = undefined;
    for (const sub of this.#subs.values()) {
      clearTimeout(sub.retryTimer);
      sub.abandon();
    }
    this.#socket.disconnect();
    this.#setState("disconnected");
  }

  #authenticate(send: (data: object) => void): void {
    Promise.resolve()
      .then(() => this.#options.getToken())
      .then((token) => {
        if (typeof token !== "string" || token === "") {
          throw new TypeError(`getToken() must return a non-empty string, got ${typeof token}`);
        }
        send({ token });
      })
      .catch((error: unknown) => {
        this.#report("unauthorized", `Could not get a token: ${message(error)}`, undefined, error);
        if (this.#closed) return;
        // The transport is open by now, which resets socket.io's backoff: its
        // retries would come about once a second for as long as the token
        // service is down. Ours grow (retryDelay doubling up to maxRetryDelay),
        // and each one calls getToken again.
        this.#socket.disconnect();
        this.#scheduleReconnect();
        this.#setState(this.#everConnected ? "reconnecting" : "connecting");
      });
  }

  #listen(): void {
    const socket = this.#socket;
    socket.on("connect", () => {
      this.#everConnected = true;
      this.#reconnectFailures = 0;
      // Resubscribe before announcing "connected": a state listener that
      // subscribes then adds a scope this loop has already passed, so it is sent
      // once (by subscribe()), not a second time by the loop.
      for (const sub of this.#subs.values()) this.#send(sub);
      this.#setState("connected");
    });
    socket.on("disconnect", (reason) => {
      for (const sub of this.#subs.values()) sub.abandon();
      if (this.#closed) return;
      if (reason === "io server disconnect") {
        // The gateway closed us (shutdown, deploy, expired token): socket.io will not
        // retry by itself. Come back after a delay, with a fresh token from getToken.
        this.#scheduleReconnect();
      }
      this.#setState(this.#everConnected ? "reconnecting" : "connecting");
    });
    socket.on("connect_error", (error) => {
      if (this.#closed) return;
      if (socket.active) {
        // A transport failure: socket.io retries with its own backoff.
        this.#setState(this.#everConnected ? "reconnecting" : "connecting");
        return;
      }
      // Refused by the gateway's handshake middleware.
      const code = toClientErrorCode(error.message);
      if (code === "unauthorized") {
        this.#report(code, "The gateway refused the token (unauthorized)");
        this.#setState("disconnected");
      } else {
        this.#report(code, `The gateway refused the connection (${error.message})`);
        this.#scheduleReconnect();
        this.#setState(this.#everConnected ? "reconnecting" : "connecting");
      }
    });
    socket.on("progress", (msg) => this.#onMessage(msg, "progress"));
    socket.on("snapshot", (msg) => this.#onMessage(msg, "snapshot"));
  }

  #onMessage(msg: ProgressMessage, kind: "progress" | "snapshot"): void {
    if (typeof msg !== "object" || msg === null || typeof msg.jobs !== "object") return;
    const sub = this.#subs.get(msg.scope);
    if (sub === undefined || msg.jobs === null) return;
    if (kind === "progress") {
      // Live values were written just now by Redis: they calibrate the clock.
      for (const value of Object.values(msg.jobs)) {
        if (value !== null && typeof value?.updated_at === "string") {
          this.#clock.sample(Date.parse(value.updated_at));
        }
      }
      sub.progress(msg.jobs, this.now());
    } else {
      sub.snapshot(msg.jobs as JobMap, this.now());
    }
  }

  #send(sub: Subscription): void {
    clearTimeout(sub.retryTimer);
    sub.retryTimer = undefined;
    if (!this.#socket.connected) return; // the "connect" handler subscribes
    sub.begin();
    const attempt = ++sub.attempt;
    this.#socket
      .timeout(this.#options.ackTimeout)
      .emit("subscribe", { scope: sub.scope }, (err, ack) => {
        if (this.#subs.get(sub.scope) !== sub || sub.attempt !== attempt) return;
        if (err) {
          sub.abandon();
          // A disconnection also fails pending acks; the next "connect" resubscribes.
          if (this.#socket.connected) {
            this.#fail(
              sub,
              "unavailable",
              `No answer to subscribe within ${this.#options.ackTimeout} ms`,
            );
          }
          return;
        }
        if (typeof ack !== "object" || ack === null) {
          sub.abandon();
          this.#fail(sub, "unavailable", "The gateway sent a malformed subscribe ack");
        } else if (ack.ok) {
          // The gateway's clock when it answered: the first estimate of the
          // clock that stamps jobs, before any live update (a scope with
          // nothing running may never send one).
          if (typeof ack.now === "number") this.#clock.sample(ack.now);
          sub.canCancel = ack.can_cancel === true;
          sub.settle(ack.jobs ?? {}, this.now());
        } else {
          sub.abandon();
          this.#fail(sub, toClientErrorCode(ack.error?.code), ack.error?.message ?? "refused");
        }
      });
  }

  #fail(sub: Subscription, code: ClientErrorCode, text: string): void {
    const error = this.#report(code, `Cannot watch ${sub.scope}: ${text} (${code})`, sub.scope);
    sub.error = error;
    if (RETRYABLE_CODES.includes(code)) {
      const delay = this.#backoff(sub.failures++);
      sub.retryTimer = setTimeout(() => this.#send(sub), delay);
    } else {
      // Final (forbidden, invalid_scope): what we held is no longer ours to show.
      sub.clear(this.now());
    }
  }

  #leave(sub: Subscription): void {
    clearTimeout(sub.retryTimer);
    this.#subs.delete(sub.scope);
    if (this.#socket.connected) this.#socket.emit("unsubscribe", { scope: sub.scope }, () => {});
    if (this.#subs.size === 0) {
      clearInterval(this.#stalledTimer);
      this.#stalledTimer = undefined;
    }
  }

  #armStalledTimer(): void {
    if (this.#stalledTimer !== undefined || this.#closed) return;
    this.#stalledTimer = setInterval(() => {
      const now = this.now();
      for (const sub of this.#subs.values()) if (sub.loaded) sub.checkStalled(now);
    }, this.#options.stalledCheckInterval);
  }

  #scheduleReconnect(): void {
    clearTimeout(this.#reconnectTimer);
    const delay = this.#backoff(this.#reconnectFailures++);
    this.#reconnectTimer = setTimeout(() => {
      if (!this.#closed && !this.#socket.connected) this.#socket.connect();
    }, delay);
  }

  /** Exponential backoff with jitter (0.5x to 1x), so many clients do not retry in step. */
  #backoff(failures: number): number {
    const base = Math.min(this.#options.maxRetryDelay, this.#options.retryDelay * 2 ** failures);
    return base / 2 + (Math.random() * base) / 2;
  }

  #report(
    code: ClientErrorCode,
    text: string,
    scope?: string,
    cause?: unknown,
  ): ProgressClientError {
    const error = new ProgressClientError(code, text, scope, { cause });
    this.emit("error", error);
    return error;
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit("state", state);
  }
}

/** Creates a client for a gateway; see ProgressClientOptions. */
export function createProgressClient(options: ProgressClientOptions): ProgressClient {
  return new ProgressClient(options);
}
