/**
 * The Socket.IO side of the gateway: the handshake's token check, the expiry
 * timer, and the `subscribe` / `unsubscribe` / `cancel` handlers.
 *
 * Per socket the gateway keeps the token's claims, a two-number rate bucket,
 * the expiry timer and, only while subscribes are not done, small maps of
 * them. Which scopes a socket watches is its Socket.IO rooms.
 */
import type { BaseLogger } from "pino";
import type { Socket } from "socket.io";
import {
  ackError,
  type CancelAck,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type SubscribeAck,
  type SubscribeErrorCode,
  type UnsubscribeAck,
} from "../shared/events";
import { grantsAllow } from "../shared/grants";
import { formatScope } from "../shared/scope";
import type { TokenClaims } from "./auth";
import { CancelService } from "./cancel";
import type { Fanout } from "./fanout";
import type { Bucket, SubscribeLimits } from "./limits";
import type { GatewayMetrics } from "./metrics";
import { emptyMap } from "./reader";
import type { Subscriptions } from "./subscriptions";

/** What the gateway keeps per socket. */
export interface SocketData {
  claims: TokenClaims;
  bucket: Bucket;
  /** Subscribes waiting on Redis, by scope; absent when none. */
  pending?: Map<string, Promise<void>>;
  /**
   * Subscribes accepted and not done yet (queued behind an earlier request for
   * the scope, or running), counted by scope; absent when none. With the
   * rooms, the scopes `maxScopes` counts: a subscribe takes its place when it
   * is accepted, not when its turn comes.
   */
  accepted?: Map<string, number>;
  /** The last subscribe or unsubscribe not yet done, by scope; absent when none. */
  turns?: Map<string, Promise<void>>;
  expiry?: NodeJS.Timeout;
}

export type GatewaySocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  SocketData
>;

export interface SocketHandlersOptions {
  verify: (token: unknown) => Promise<TokenClaims>;
  /** Seconds of clock skew tolerated on `exp`: the expiry timer allows the same. */
  clockTolerance: number;
  subscriptions: Subscriptions;
  fanout: Fanout;
  limits: SubscribeLimits;
  metrics: GatewayMetrics;
  logger: BaseLogger;
  /** Runs `cancel` requests. */
  cancel: CancelService;
}

/** setTimeout's longest delay; a token living longer is re-armed. */
const MAX_TIMER = 2 ** 31 - 1;

/** Rooms are `#<scope>`: `#` never occurs in a scope nor in a socket id. */
export function roomOf(scope: string): string {
  return `#${scope}`;
}

function noop(): void {}

/** The canonical scope of a `{ scope: string }` request; throws with a message for the client. */
function scopeOf(request: unknown): string {
  const raw = (request as { scope?: unknown } | null)?.scope;
  if (typeof raw !== "string") throw new Error("Expected a request `{ scope: string }`");
  return formatScope(raw);
}

/** Whether `scope` already counts against the socket's cap: watched, or a subscribe accepted. */
function isCounted(socket: GatewaySocket, scope: string): boolean {
  return socket.rooms.has(roomOf(scope)) || socket.data.accepted?.has(scope) === true;
}

/** Scopes the socket watches or has an accepted subscribe for (what `maxScopes` caps). */
function scopeCount(socket: GatewaySocket): number {
  // Every socket is in the room of its own id.
  let count = socket.rooms.size - 1;
  const accepted = socket.data.accepted;
  if (accepted !== undefined) {
    for (const scope of accepted.keys()) if (!socket.rooms.has(roomOf(scope))) count += 1;
  }
  return count;
}

/** Socket listeners shared by every socket: socket.io calls them with `this` = the socket. */
interface SharedListeners {
  subscribe: (this: GatewaySocket, request: unknown, ack: unknown) => void;
  unsubscribe: (this: GatewaySocket, request: unknown, ack: unknown) => void;
  cancel: (this: GatewaySocket, request: unknown, ack: unknown) => void;
  disconnecting: (this: GatewaySocket) => void;
}

export class SocketHandlers {
  readonly #o: SocketHandlersOptions;
  /** One set for all sockets rather than four closures per connection (memory per client). */
  readonly #listeners: SharedListeners;

  constructor(options: SocketHandlersOptions) {
    this.#o = options;
    const ackOf = (ack: unknown) => (typeof ack === "function" ? ack : noop) as never;
    const subscribe = (socket: GatewaySocket, request: unknown, ack: unknown) =>
      this.#subscribe(socket, request, ackOf(ack));
    const unsubscribe = (socket: GatewaySocket, request: unknown, ack: unknown) =>
      this.#unsubscribe(socket, request, ackOf(ack));
    const cancel = (socket: GatewaySocket, request: unknown, ack: unknown) =>
      this.#cancel(socket, request, ackOf(ack));
    const release = (scope: string) => this.#release(scope);
    this.#listeners = {
      subscribe(request, ack) {
        void subscribe(this, request, ack);
      },
      unsubscribe(request, ack) {
        void unsubscribe(this, request, ack);
      },
      cancel(request, ack) {
        void cancel(this, request, ack);
      },
      disconnecting() {
        clearTimeout(this.data.expiry);
        // Subscribes still waiting see `socket.connected === false` and release themselves.
        for (const room of this.rooms) {
          if (room.startsWith("#")) release(room.slice(1));
        }
      },
    };
  }

  /** Handshake middleware: a valid token or `connect_error` "unauthorized". */
  authenticate(socket: GatewaySocket, next: (error?: Error) => void): void {
    const auth = socket.handshake.auth as unknown;
    const token =
      typeof auth === "object" && auth !== null ? (auth as { token?: unknown }).token : undefined;
    this.#o.verify(token).then(
      (claims) => {
        socket.data.claims = claims;
        socket.data.bucket = this.#o.limits.bucket(Date.now());
        // The claims are all the gateway needs from now on; the token string
        // (a few hundred bytes) would otherwise live as long as the socket.
        delete (auth as { token?: unknown }).token;
        next();
      },
      (error: unknown) => {
        // The reason, never the token.
        this.#o.logger.info(
          { reason: (error as Error).message, address: socket.handshake.address },
          "connection refused",
        );
        next(new Error("unauthorized"));
      },
    );
  }

  connection(socket: GatewaySocket): void {
    this.#armExpiry(socket);
    const listeners = this.#listeners;
    socket.on("subscribe", listeners.subscribe);
    socket.on("unsubscribe", listeners.unsubscribe);
    socket.on("cancel", listeners.cancel);
    socket.on("disconnecting", listeners.disconnecting);
  }

  /** Disconnects the socket when its token expires. */
  #armExpiry(socket: GatewaySocket): void {
    const left = socket.data.claims.expiresAt + this.#o.clockTolerance * 1000 - Date.now();
    if (left <= 0) {
      this.#o.logger.info({ sub: socket.data.claims.sub }, "token expired: disconnecting");
      socket.disconnect(true);
      return;
    }
    socket.data.expiry = setTimeout(() => this.#armExpiry(socket), Math.min(left, MAX_TIMER));
    socket.data.expiry.unref();
  }

  #release(scope: string): void {
    this.#o.subscriptions.release(scope);
    if (!this.#o.subscriptions.isLive(scope)) this.#o.fanout.drop(scope);
  }

  #held(socket: GatewaySocket, scope: string): SubscribeAck {
    this.#o.metrics.subscribes.inc({ result: "ok" });
    const ack: SubscribeAck = {
      ok: true,
      scope,
      jobs: this.#o.subscriptions.jobs(scope) ?? emptyMap(),
      now: Date.now(),
    };
    if (CancelService.allows(socket.data.claims, scope)) ack.can_cancel = true;
    return ack;
  }

  async #subscribe(
    socket: GatewaySocket,
    request: unknown,
    ack: (response: SubscribeAck) => void,
  ): Promise<void> {
    const refuse = (code: SubscribeErrorCode, message: string) => {
      this.#o.metrics.subscribes.inc({ result: code });
      ack(ackError(code, message));
    };
    // Syntax, then grants, then limits: all before any Redis command.
    let scope: string;
    try {
      scope = scopeOf(request);
    } catch (error) {
      refuse("invalid_scope", (error as Error).message);
      return;
    }
    if (!grantsAllow(socket.data.claims.scopes, scope)) {
      refuse("forbidden", `The token does not grant scope "${scope}"`);
      return;
    }
    const { limits } = this.#o;
    if (!limits.take(socket.data.bucket, Date.now())) {
      refuse("rate_limited", "Too many subscribes; slow down");
      return;
    }
    if (!isCounted(socket, scope) && scopeCount(socket) >= limits.maxScopes) {
      refuse("rate_limited", `A connection may watch at most ${limits.maxScopes} scopes`);
      return;
    }
    // Counted from now on: a subscribe queued behind an earlier request for
    // its scope would otherwise be missed by the requests that follow it (a
    // polling POST carries many, all checked before any turn runs).
    const accepted = (socket.data.accepted ??= new Map());
    accepted.set(scope, (accepted.get(scope) ?? 0) + 1);
    await this.#inTurn(socket, scope, () =>
      this.#join(socket, scope, ack, refuse).finally(() => {
        // Joined (the room counts it now) or refused: no longer waiting.
        const left = (accepted.get(scope) ?? 1) - 1;
        if (left > 0) accepted.set(scope, left);
        else accepted.delete(scope);
        if (accepted.size === 0 && socket.data.accepted === accepted) {
          socket.data.accepted = undefined;
        }
      }),
    );
  }

  /** The subscribe's turn: joins the scope's room once its state is held. */
  async #join(
    socket: GatewaySocket,
    scope: string,
    ack: (response: SubscribeAck) => void,
    refuse: (code: SubscribeErrorCode, message: string) => void,
  ): Promise<void> {
    const room = roomOf(scope);
    if (socket.rooms.has(room)) {
      ack(this.#held(socket, scope));
      return;
    }
    if (!socket.connected) return;
    const acquiring = this.#o.subscriptions.acquire(scope);
    const pending = (socket.data.pending ??= new Map());
    pending.set(scope, acquiring);
    try {
      await acquiring;
    } catch (error) {
      this.#o.logger.warn({ err: error, scope }, "subscribe failed: Redis did not answer");
      if (socket.connected) refuse("unavailable", "Redis did not answer; try again");
      return;
    } finally {
      pending.delete(scope);
      if (pending.size === 0 && socket.data.pending === pending) socket.data.pending = undefined;
    }
    if (!socket.connected) {
      this.#release(scope);
      return;
    }
    // Joined and read in the same tick: no update can fall between the two.
    socket.join(room);
    ack(this.#held(socket, scope));
  }

  async #unsubscribe(
    socket: GatewaySocket,
    request: unknown,
    ack: (response: UnsubscribeAck) => void,
  ): Promise<void> {
    let scope: string;
    try {
      scope = scopeOf(request);
    } catch (error) {
      ack(ackError("invalid_scope", (error as Error).message));
      return;
    }
    await this.#inTurn(socket, scope, async () => {
      const room = roomOf(scope);
      if (socket.rooms.has(room)) {
        socket.leave(room);
        this.#release(scope);
      }
      ack({ ok: true });
    });
  }

  /**
   * Runs `step` once every earlier subscribe and unsubscribe of this socket for
   * `scope` has taken effect, so that they take effect in the order they were
   * sent (a UI component mounted, unmounted and mounted again ends subscribed,
   * and one more unmount ends unsubscribed). Other scopes do not wait.
   */
  #inTurn(socket: GatewaySocket, scope: string, step: () => Promise<void>): Promise<void> {
    const turns = (socket.data.turns ??= new Map());
    const before = turns.get(scope);
    const mine = before === undefined ? step() : before.then(step, step);
    turns.set(scope, mine);
    const done = () => {
      if (turns.get(scope) !== mine) return;
      turns.delete(scope);
      if (turns.size === 0 && socket.data.turns === turns) socket.data.turns = undefined;
    };
    mine.then(done, done);
    return mine;
  }

  /** Checks and runs a cancel (see cancel.ts for the order of checks). */
  async #cancel(
    socket: GatewaySocket,
    request: unknown,
    ack: (response: CancelAck) => void,
  ): Promise<void> {
    ack(await this.#o.cancel.handle(socket.data.claims, socket.data.bucket, request));
  }
}
