/**
 * redis-progress/server: the gateway that streams scopes from Redis to
 * browsers over Socket.IO, and the token helper for the application's backend.
 */
export { Gateway, createGateway } from "./gateway";
export type { GatewaySocket, SocketData } from "./sockets";
export { signScopeToken, type SignScopeTokenOptions } from "./tokens";
export { verifyToken, type TokenClaims } from "./auth";
export {
  DEFAULTS,
  MIN_SECRET_BYTES,
  type DemoOptions,
  type GatewayOptions,
  type LimitOptions,
} from "./options";
export { configFromEnv, type GatewayConfig } from "./config";
export { startEmbeddedRedis, type EmbeddedRedis } from "./embedded-redis";
export { UnauthorizedError, UnavailableError } from "./errors";
