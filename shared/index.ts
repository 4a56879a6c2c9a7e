/**
 * redis-progress: the worker side (Node). `import { RedisProgress } from "redis-progress"`.
 */
export * from "./isomorphic";
export { RedisProgress, RATE_SMOOTHING, type RedisProgressEvents } from "./tracker/redis-progress";
export {
  DEFAULTS,
  type ChildOptions,
  type RedisProgressOptions,
  type ScopeOptions,
} from "./tracker/options";
export { requestCancel, CancelCode, type CancelResult } from "./tracker/cancel";
export { jobs, find, remove, readScope, type Job } from "./tracker/queries";
export { forEach, type ForEachOptions } from "./tracker/for-each";
export type { RedisOption } from "./tracker/connection";
export type { RedisClient } from "./tracker/scripts";
