export { RedisProgressError, type ErrorCode } from "./redis-progress-error";
export { InvalidScopeError } from "./invalid-scope-error";
export { InvalidArgumentError } from "./invalid-argument-error";
export { TimeoutError } from "./timeout-error";
export { NotFoundError } from "./not-found-error";
export { ConflictError } from "./conflict-error";
