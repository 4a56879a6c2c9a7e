/**
 * `redis-progress/client`: the browser SDK and the renderer (ESM, with types).
 * Only isomorphic files of `shared/` are imported here: never `shared/index.ts`,
 * which pulls in the Node-only tracker.
 *
 * ```ts
 * import { createProgressClient, mountProgress } from "redis-progress/client";
 * const client = createProgressClient({ url: "https://progress.example.com", getToken });
 * const unmount = mountProgress(document.querySelector("#jobs")!, { client, scope: "user:3421" });
 * ```
 */
export { ProgressClient, createProgressClient, type ProgressClientEvents } from "./progress-client";
export type { ProgressClientOptions } from "./options";
export type { ConnectionState, ClientErrorCode } from "./codes";
export { ProgressClientError } from "./progress-client-error";
export type { JobsListener } from "./subscription";
export { mountProgress, type MountOptions } from "./render/mount";
export { DEFAULT_LABELS, type Labels } from "./render/labels";
export { defineProgressElement, ELEMENT_NAME, type ProgressJobsElement } from "./render/element";
export { setDefaultClient, getDefaultClient } from "./render/default-client";
export { barFraction, motionHorizon } from "./render/motion";

export { formatScope, isValidScope, parseScope, type ScopeInput } from "../shared/scope";
export { InvalidScopeError } from "../shared/errors/invalid-scope-error";
export type { JobMap, JobPatch, JobStatus, JobValue } from "../shared/job";
export type { StoreChange } from "../shared/store";
