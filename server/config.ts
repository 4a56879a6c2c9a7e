/**
 * The gateway's configuration from the environment (DESIGN.md, "Configuration
 * of the gateway"). Parsing only: nothing starts here.
 */
import pino from "pino";
import { InvalidArgumentError } from "../shared/errors/invalid-argument-error";
import { DEFAULT_PREFIX, validatePrefix } from "../shared/keys";
import { parseClusterNodes as parseNodeList, type ClusterNode } from "../shared/tracker/connection";
import { OriginPolicy } from "./origin";
import { checkSecret } from "./tokens";

export interface GatewayConfig {
  port: number;
  /** Interface to bind; undefined = all (demo mode: loopback). */
  host: string | undefined;
  /** REDIS_URL, or undefined to start an embedded redis-server. */
  redisUrl: string | undefined;
  /** REDIS_CLUSTER_NODES seeds; when set they take precedence over REDIS_URL. */
  clusterNodes: ClusterNode[] | undefined;
  /** PACE_SECRET; undefined only in demo mode (a random one is used). */
  secret: string | undefined;
  prefix: string;
  allowedOrigins: string[];
  demo: boolean;
  logLevel: string;
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/**
 * LOG_LEVEL, checked here so that a typo (`verbose`) is refused like every
 * other variable (named, exit 2) instead of by pino's constructor ("default
 * level:verbose must be included in custom levels", exit 1). pino's own list
 * plus `silent`, which pino accepts but does not list.
 */
function parseLogLevel(value: string | undefined): string {
  if (value === undefined || value === "") return "info";
  const levels = [...Object.keys(pino.levels.values), "silent"];
  if (!levels.includes(value)) {
    throw new InvalidArgumentError(
      `Expected LOG_LEVEL to be one of ${levels.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function parsePort(name: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(port) || port > 65535) {
    throw new InvalidArgumentError(
      `Expected ${name} to be a port number, got ${JSON.stringify(value)}`,
    );
  }
  return port;
}

/** `host:port,host:port` → seeds; IPv6 hosts in brackets (`[::1]:7000`). */
export function parseClusterNodes(value: string): ClusterNode[] {
  return parseNodeList(value, "REDIS_CLUSTER_NODES");
}

/**
 * Reads the configuration. Throws an InvalidArgumentError naming the variable
 * to fix; PACE_SECRET is required unless PACE_DEMO=1.
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const demo = env.PACE_DEMO === "1" || env.PACE_DEMO === "true";
  const secret = env.PACE_SECRET === "" ? undefined : env.PACE_SECRET;
  if (secret === undefined && !demo) {
    throw new InvalidArgumentError(
      "PACE_SECRET is required (at least 32 bytes; `openssl rand -hex 32` makes one), " +
        "unless PACE_DEMO=1",
    );
  }
  if (secret !== undefined) checkSecret(secret, "PACE_SECRET");
  const redisUrl = env.REDIS_URL === "" ? undefined : env.REDIS_URL;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new InvalidArgumentError(
      `Expected REDIS_URL to be a redis:// or rediss:// URL, got ${JSON.stringify(redisUrl)}`,
    );
  }
  const nodes = env.REDIS_CLUSTER_NODES;
  let prefix = DEFAULT_PREFIX;
  if (env.PACE_PREFIX !== undefined && env.PACE_PREFIX !== "") {
    try {
      prefix = validatePrefix(env.PACE_PREFIX);
    } catch (error) {
      throw new InvalidArgumentError(`PACE_PREFIX: ${(error as Error).message}`);
    }
  }
  const allowedOrigins = list(env.PACE_ALLOWED_ORIGINS);
  try {
    new OriginPolicy(allowedOrigins);
  } catch (error) {
    throw new InvalidArgumentError(`PACE_ALLOWED_ORIGINS: ${(error as Error).message}`);
  }
  return {
    port: env.PORT === undefined || env.PORT === "" ? 3000 : parsePort("PORT", env.PORT),
    host: env.HOST === undefined || env.HOST === "" ? (demo ? "127.0.0.1" : undefined) : env.HOST,
    redisUrl,
    clusterNodes: nodes === undefined || nodes === "" ? undefined : parseClusterNodes(nodes),
    secret,
    prefix,
    allowedOrigins,
    demo,
    logLevel: parseLogLevel(env.LOG_LEVEL),
  };
}
