/**
 * A gateway for integration tests: its own TestRedis (unless one is given),
 * createGateway on a free loopback port with a known secret, token minting,
 * and socket.io-client helpers. Stop it in afterAll/afterEach.
 */
import { createServer } from "node:net";
import { SignJWT } from "jose";
import pino from "pino";
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import type {
  ClientToServerEvents,
  ServerToClientEvents,
  SubscribeAck,
  UnsubscribeAck,
} from "../../shared/events";
import { createGateway, signScopeToken, type Gateway, type GatewayOptions } from "../../server";
import { TestRedis } from "./redis-server";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The secret every test gateway uses (32+ bytes, as the gateway requires). */
export const TEST_SECRET = "test-secret-that-is-long-enough-0123456789";

export interface StartOptions {
  /** A running TestRedis to use (it is not stopped by stop()); default: a new one. */
  redis?: TestRedis;
  /** Gateway options (secret, redis and logger are filled in unless given). */
  gateway?: Partial<GatewayOptions>;
}

export interface TokenOptions {
  ttl?: number;
  sub?: string;
  cancel?: string[];
}

export class TestGateway {
  readonly redis: TestRedis;
  readonly gateway: Gateway;
  readonly url: string;
  readonly port: number;
  readonly #ownsRedis: boolean;
  readonly #sockets = new Set<ClientSocket>();

  private constructor(redis: TestRedis, ownsRedis: boolean, gateway: Gateway, port: number) {
    this.redis = redis;
    this.#ownsRedis = ownsRedis;
    this.gateway = gateway;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(options: StartOptions = {}): Promise<TestGateway> {
    const redis = options.redis ?? (await TestRedis.start());
    const gateway = createGateway({
      secret: TEST_SECRET,
      redis: redis.url,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
      ...options.gateway,
    });
    const { port } = await gateway.listen(0, "127.0.0.1");
    return new TestGateway(redis, options.redis === undefined, gateway, port);
  }

  /** A token for this gateway (ttl in seconds, default 600). */
  token(scopes: string[], options: TokenOptions = {}): Promise<string> {
    return signScopeToken({ secret: TEST_SECRET, scopes, ttl: options.ttl ?? 600, ...options });
  }

  /** A socket.io client (WebSocket only unless told otherwise), not yet connected. */
  client(
    token: string | undefined,
    options: Partial<ManagerOptions & SocketOptions> = {},
  ): ClientSocket {
    const socket: ClientSocket = io(this.url, {
      auth: token === undefined ? {} : { token },
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
      ...options,
    });
    this.#sockets.add(socket);
    return socket;
  }

  /** Connects a client; rejects with the connect_error. */
  async connect(
    token: string | undefined,
    options: Partial<ManagerOptions & SocketOptions> = {},
  ): Promise<ClientSocket> {
    const socket = this.client(token, options);
    await connected(socket);
    return socket;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.disconnect();
    this.#sockets.clear();
    await this.gateway.close();
    if (this.#ownsRedis) await this.redis.stop();
  }
}

/** Opens the socket and resolves on `connect`, or rejects with the `connect_error`. */
export function connected(socket: ClientSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => {
      socket.off("connect_error");
      resolve();
    });
    socket.once("connect_error", (error) => reject(error));
    socket.connect();
  });
}

/** Sends `subscribe` and resolves with the ack. */
export function subscribe(socket: ClientSocket, scope: unknown): Promise<SubscribeAck> {
  return socket.timeout(10_000).emitWithAck("subscribe", { scope } as { scope: string });
}

/** Sends `unsubscribe` and resolves with the ack. */
export function unsubscribe(socket: ClientSocket, scope: string): Promise<UnsubscribeAck> {
  return socket.timeout(10_000).emitWithAck("unsubscribe", { scope });
}

/** Polling with a deadline lives in wait.ts; re-exported for the suites that import it from here. */
export { waitFor } from "./wait";

/** Signs an arbitrary JWT with the test secret (for malformed-claims cases); `exp: null` omits `exp`. */
export function rawToken(
  claims: Record<string, unknown>,
  options: { alg?: string; secret?: string; exp?: number | null } = {},
): Promise<string> {
  const { alg = "HS256", secret = TEST_SECRET } = options;
  const exp = options.exp === undefined ? Math.floor(Date.now() / 1000) + 600 : options.exp;
  const jwt = new SignJWT(claims).setProtectedHeader({ alg });
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** A free loopback port (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
