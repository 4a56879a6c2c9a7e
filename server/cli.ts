#!/usr/bin/env node
/**
 * The `redis-progress` command.
 *
 *   redis-progress serve                       run the gateway, configured by the environment
 *   redis-progress demo                        the demo (`npm start`): serve with PACE_DEMO=1 and
 *                                              always an embedded Redis
 *   redis-progress token <scope>... [options]  print a token for the gateway (needs PACE_SECRET)
 *
 * Logs are pino JSON lines on stdout; they never contain tokens or the secret.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import pino, { type Logger } from "pino";
import { clusterNodeUrls, type RedisOption } from "../shared/tracker/connection";
import { configFromEnv, type GatewayConfig } from "./config";
import { startEmbeddedRedis, type EmbeddedRedis } from "./embedded-redis";
import { createGateway, type Gateway } from "./gateway";
import { checkSecret, signScopeToken } from "./tokens";

const USAGE = `Usage:
  redis-progress serve
      Runs the gateway. Environment: PORT (3000), HOST, REDIS_URL (unset: an
      embedded redis-server), REDIS_CLUSTER_NODES, PACE_SECRET (required unless
      PACE_DEMO=1), PACE_PREFIX, PACE_ALLOWED_ORIGINS, PACE_DEMO=1, LOG_LEVEL.
  redis-progress demo
      Runs the demo (what npm start runs): serve with PACE_DEMO=1 and always an
      embedded redis-server; REDIS_URL and REDIS_CLUSTER_NODES are ignored.
  redis-progress token <scope>... [--ttl <seconds>] [--cancel <scope>]... [--sub <id>]
      Prints a token granting the scopes (exact, or prefix:*), signed with PACE_SECRET.
      --ttl defaults to 3600 seconds.
`;

/** Never let a token or a secret reach the logs, whatever a caller passes. */
const REDACT = [
  "token",
  "*.token",
  "auth",
  "*.auth",
  "secret",
  "*.secret",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
];

function fail(message: string, code = 2): never {
  process.stderr.write(`redis-progress: ${message}\n`);
  process.exit(code);
}

async function token(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ttl: { type: "string" },
      cancel: { type: "string", multiple: true },
      sub: { type: "string" },
    },
    allowPositionals: true,
  });
  const secret = process.env.PACE_SECRET;
  if (secret === undefined || secret === "") fail("PACE_SECRET must be set to mint a token");
  if (positionals.length === 0) fail(`token needs at least one scope\n\n${USAGE}`);
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
  try {
    checkSecret(secret, "PACE_SECRET");
    const jwt = await signScopeToken({
      secret,
      scopes: positionals,
      ttl,
      sub: values.sub,
      cancel: values.cancel,
    });
    process.stdout.write(`${jwt}\n`);
  } catch (error) {
    fail((error as Error).message);
  }
}

/** Variables that would send the demo's simulated jobs to a real Redis. */
const DEMO_IGNORED = ["REDIS_URL", "REDIS_CLUSTER_NODES"] as const;

/**
 * Runs the gateway. `demo` is the `demo` command (`npm start`): PACE_DEMO=1,
 * and REDIS_URL / REDIS_CLUSTER_NODES dropped, because a shell that exported
 * them for real work would otherwise get the demo's jobs written into that
 * Redis, under the default prefix and the scopes user:1 to user:3. Done here
 * rather than in the npm script so that it works in every shell.
 */
async function serve(demo = false): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const ignored = demo ? DEMO_IGNORED.filter((name) => (env[name] ?? "") !== "") : [];
  if (demo) {
    env.PACE_DEMO = "1";
    for (const name of DEMO_IGNORED) delete env[name];
  }
  let config: GatewayConfig;
  try {
    config = configFromEnv(env);
  } catch (error) {
    fail((error as Error).message);
  }
  const logger: Logger = pino({ name: "redis-progress", level: config.logLevel, redact: REDACT });
  if (ignored.length > 0) {
    logger.warn(
      { ignored },
      `the demo always runs on an embedded redis-server: ${ignored.join(" and ")} ignored ` +
        "(use `redis-progress serve` with PACE_DEMO=1 to run it on your own Redis)",
    );
  }
  let embedded: EmbeddedRedis | undefined;
  let gateway: Gateway | undefined;

  const cleanup = async () => {
    await gateway?.close();
    await embedded?.stop();
  };

  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    shuttingDown = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      logger.error("shutdown took more than 10 s: exiting");
      process.exit(1);
    }, 10_000);
    force.unref();
    cleanup().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));

  try {
    let redis: RedisOption;
    if (config.clusterNodes !== undefined) {
      // Seeds as redis:// URLs: the gateway opens (and closes) the Cluster itself.
      redis = clusterNodeUrls(config.clusterNodes);
      logger.info({ nodes: config.clusterNodes }, "using Redis Cluster (sharded pub/sub)");
    } else if (config.redisUrl !== undefined) {
      redis = config.redisUrl;
    } else {
      embedded = await startEmbeddedRedis();
      logger.info(
        { embeddedRedis: { url: embedded.url, pid: embedded.pid } },
        demo
          ? `demo: started an embedded redis-server at ${embedded.url} (data is not persisted)`
          : `REDIS_URL is not set: started an embedded redis-server at ${embedded.url} (data is not persisted; set REDIS_URL to use your own Redis)`,
      );
      redis = embedded.url;
    }
    if (config.secret === undefined) {
      logger.info(
        "demo mode without PACE_SECRET: tokens are signed with a random per-process secret",
      );
    }
    gateway = createGateway({
      redis,
      secret: config.secret ?? randomBytes(32).toString("hex"),
      prefix: config.prefix,
      allowedOrigins: config.allowedOrigins,
      demo: config.demo,
      logger,
    });
    const { url } = await gateway.listen(config.port, config.host);
    logger.info({ url, prefix: config.prefix, demo: config.demo }, `gateway listening on ${url}`);
    if (config.demo) {
      logger.info(
        { url: `${url}/` },
        `demo mode: simulated jobs are running in user:1, user:2 and user:3; open ${url}/ in a browser`,
      );
    }
  } catch (error) {
    logger.error({ err: error }, "the gateway could not start");
    await cleanup().catch(() => {});
    process.exit(1);
  }
}

/** Runs the command line (`argv` without node and the script). */
export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "serve") return serve();
  if (command === "demo") return serve(true);
  if (command === "token") return token(rest);
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE);
    return;
  }
  fail(`unknown command ${JSON.stringify(command ?? "")}\n\n${USAGE}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => fail((error as Error).message, 1));
}
