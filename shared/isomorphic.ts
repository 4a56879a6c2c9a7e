/**
 * The isomorphic part of `shared/`: no Node-only imports, so the browser bundle
 * can use it. Node-only pieces (the tracker, ioredis) are exported from index.ts.
 */
export * from "./errors";
export * from "./scope";
export * from "./keys";
export * from "./job";
export * from "./store";
export * from "./events";
export * from "./emitter";
export * from "./grants";
