import type { ManagerOptions, SocketOptions } from "socket.io-client";

/** Options of `createProgressClient`. Give exactly one of `token` and `getToken`. */
export interface ProgressClientOptions {
  /**
   * The gateway's URL: its origin, or with the path prefix it is served under
   * (`https://example.com/progress` connects with socket.io's `path`
   * `/progress/socket.io` unless `socketOptions.path` is given).
   * @default the page's origin (`location.origin`)
   */
  url?: string;
  /** A token minted by your backend (JWT with a `scopes` claim). Used for every connection. */
  token?: string;
  /**
   * Returns a token; called before every connection and reconnection, so an
   * expired token can be replaced. A rejection is reported as `unauthorized`
   * and the connection is retried with backoff (`retryDelay` doubling up to `maxRetryDelay`).
   */
  getToken?: () => string | Promise<string>;
  /**
   * How long to wait for a subscribe ack before treating it as `unavailable` (and retrying).
   * @default 10000
   */
  ackTimeout?: number;
  /**
   * First delay before retrying a subscription refused as `unavailable` or
   * `rate_limited`, or reconnecting after the gateway closed the connection;
   * doubled per attempt up to `maxRetryDelay`.
   * @default 1000
   */
  retryDelay?: number;
  /** @default 30000 */
  maxRetryDelay?: number;
  /**
   * How often running jobs are checked for being stalled (no write for three heartbeats).
   * @default 5000
   */
  stalledCheckInterval?: number;
  /**
   * Connect at once; otherwise call `connect()`.
   * @default true
   */
  autoConnect?: boolean;
  /**
   * Passed to socket.io-client's `io()`; `auth` and `autoConnect` are ours.
   * @default { transports: ["websocket"] } — gateways are stateless and may run
   * behind a plain load balancer; WebSocket needs no sticky sessions, long-polling does.
   */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

const DEFAULT_OPTIONS = {
  ackTimeout: 10_000,
  retryDelay: 1_000,
  maxRetryDelay: 30_000,
  stalledCheckInterval: 5_000,
  autoConnect: true,
} as const;

export type ResolvedOptions = Required<
  Pick<
    ProgressClientOptions,
    "ackTimeout" | "retryDelay" | "maxRetryDelay" | "stalledCheckInterval" | "autoConnect"
  >
> & {
  url: string;
  getToken: () => string | Promise<string>;
  socketOptions: Partial<ManagerOptions & SocketOptions>;
};

function duration(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`Expected \`${name}\` to be a positive number of ms, got ${String(value)}`);
  }
  return value;
}

/** Validates the options (throwing TypeError naming the bad one) and merges the defaults. */
export function resolveOptions(options: ProgressClientOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Expected an options object");
  }
  const { token, getToken } = options;
  if ((token === undefined) === (getToken === undefined)) {
    throw new TypeError("Expected exactly one of `token` and `getToken`");
  }
  if (token !== undefined && (typeof token !== "string" || token === "")) {
    throw new TypeError("Expected `token` to be a non-empty string");
  }
  if (getToken !== undefined && typeof getToken !== "function") {
    throw new TypeError("Expected `getToken` to be a function");
  }
  const url = options.url ?? globalThis.location?.origin;
  if (typeof url !== "string" || url === "") {
    throw new TypeError(
      "Expected `url` (the gateway's URL); there is no page origin to default to",
    );
  }
  const target = splitUrl(url, options.socketOptions?.path);
  return {
    url: target.url,
    getToken: getToken ?? (() => token as string),
    ackTimeout: duration("ackTimeout", options.ackTimeout, DEFAULT_OPTIONS.ackTimeout),
    retryDelay: duration("retryDelay", options.retryDelay, DEFAULT_OPTIONS.retryDelay),
    maxRetryDelay: duration("maxRetryDelay", options.maxRetryDelay, DEFAULT_OPTIONS.maxRetryDelay),
    stalledCheckInterval: duration(
      "stalledCheckInterval",
      options.stalledCheckInterval,
      DEFAULT_OPTIONS.stalledCheckInterval,
    ),
    autoConnect: options.autoConnect ?? DEFAULT_OPTIONS.autoConnect,
    socketOptions: {
      transports: ["websocket"],
      ...options.socketOptions,
      ...(target.path === undefined ? {} : { path: target.path }),
    },
  };
}

/**
 * socket.io reads a URL's path as a namespace, and the gateway serves only the
 * default one. So a path in `url` is taken as the gateway's prefix (behind a
 * reverse proxy): the URL keeps its origin and socket.io's `path` becomes
 * `<prefix>/socket.io`, unless `socketOptions.path` says otherwise.
 */
function splitUrl(url: string, path: string | undefined): { url: string; path?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url, globalThis.location?.href);
  } catch {
    throw new TypeError(`Expected \`url\` to be a URL, got ${JSON.stringify(url)}`);
  }
  const prefix = parsed.pathname.replace(/\/+$/, "");
  if (prefix === "") return { url, path };
  return { url: parsed.origin + parsed.search, path: path ?? `${prefix}/socket.io` };
}
