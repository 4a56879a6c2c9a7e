/**
 * Entry of the browser bundle served at /redis-progress.js (IIFE, global
 * `RedisProgressClient`): everything `redis-progress/client` exports, with the
 * <redis-progress-jobs> element registered on load.
 */
import { defineProgressElement } from "./index";

export * from "./index";

defineProgressElement();
