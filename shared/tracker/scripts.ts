/**
 * Loads the Lua scripts once and registers them on a connection with
 * `defineCommand` (EVALSHA, with EVAL on NOSCRIPT). Each command name carries
 * the script's hash, so two deployments with different scripts never collide.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Cluster, Redis } from "ioredis";

export type RedisClient = Redis | Cluster;

interface ScriptSpec {
  readonly file: string;
  readonly numberOfKeys: number;
}

const SPECS = {
  write: { file: "write-3.lua", numberOfKeys: 3 },
  read: { file: "read-2.lua", numberOfKeys: 2 },
  remove: { file: "remove-2.lua", numberOfKeys: 2 },
  cancel: { file: "cancel-2.lua", numberOfKeys: 2 },
} as const satisfies Record<string, ScriptSpec>;

export type ScriptName = keyof typeof SPECS;

const LUA_DIR = join(__dirname, "lua");
let lib: string | undefined;
const sources = new Map<ScriptName, { name: string; lua: string }>();

function source(script: ScriptName): { name: string; lua: string } {
  let entry = sources.get(script);
  if (entry === undefined) {
    lib ??= readFileSync(join(LUA_DIR, "lib.lua"), "utf8");
    const lua = `${lib}\n${readFileSync(join(LUA_DIR, SPECS[script].file), "utf8")}`;
    const sha = createHash("sha1").update(lua).digest("hex").slice(0, 10);
    entry = { name: `redisProgress_${script}_${sha}`, lua };
    sources.set(script, entry);
  }
  return entry;
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** Runs one of our scripts on `client`, registering it on first use. */
export function runScript(
  client: RedisClient,
  script: ScriptName,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const { name, lua } = source(script);
  const commands = client as unknown as Record<string, ScriptCall | undefined>;
  let call = commands[name];
  if (call === undefined) {
    client.defineCommand(name, { numberOfKeys: SPECS[script].numberOfKeys, lua });
    call = commands[name];
    if (call === undefined) throw new Error(`defineCommand did not register ${name}`);
  }
  return call.call(client, ...keys, ...args);
}

/** The publish command the scripts use for this client. */
export function publishCommand(cluster: boolean): "PUBLISH" | "SPUBLISH" {
  return cluster ? "SPUBLISH" : "PUBLISH";
}
