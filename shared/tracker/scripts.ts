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
  write: { file: "write-6.lua", numberOfKeys: 3 },
  read: { file: "read-2.lua", numberOfKeys: 2 },
  remove: { file: "remove-2.lua", numberOfKeys: 2 },
  cancel: { file: "cancel-3.lua", numberOfKeys: 3 },
} as const satisfies Record<string, ScriptSpec>;

export type ScriptName = keyof typeof SPECS;

const LUA_DIR = join(__dirname, "lua");
const INCLUDE = /^--#include ([\w.-]+\.lua)[ \t]*$/gm;
/** What a script without `--#include` lines gets in front of it. */
const PRELUDE = ["clock.lua", "state.lua", "lib.lua"];
interface Source {
  name: string;
  /** ioredis's variant of `name` that replies with bytes (kept: no concatenation per call). */
  bufferName: string;
  lua: string;
}
const sources = new Map<ScriptName, Source>();

function read(file: string): string {
  return readFileSync(join(LUA_DIR, file), "utf8");
}

/**
 * A script's text with its helpers: each `--#include file.lua` line is replaced
 * by that file, so the write script can store a prebuilt write before defining
 * the helpers only its full path needs (each definition costs time on every
 * call).
 * A script without such lines gets the whole prelude in front.
 */
function assemble(file: string): string {
  const body = read(file);
  if (body.match(INCLUDE) === null) return [...PRELUDE.map(read), body].join("\n");
  return body.replace(INCLUDE, (_line, name: string) => read(name));
}

function source(script: ScriptName): Source {
  let entry = sources.get(script);
  if (entry === undefined) {
    const lua = assemble(SPECS[script].file);
    const sha = createHash("sha1").update(lua).digest("hex").slice(0, 10);
    const name = `redisProgress_${script}_${sha}`;
    entry = { name, bufferName: `${name}Buffer`, lua };
    sources.set(script, entry);
  }
  return entry;
}

/** A script argument: text, a number (sent as its text) or bytes. */
export type ScriptArg = string | number | Buffer;

type ScriptCall = (...args: ScriptArg[]) => Promise<unknown>;

/**
 * Runs one of our scripts on `client`, registering it on first use. With
 * `buffers`, the reply's strings come as bytes (ioredis's `…Buffer` variant).
 */
export function runScript(
  client: RedisClient,
  script: ScriptName,
  keys: readonly string[],
  args: readonly ScriptArg[],
  options: { buffers?: boolean } = {},
): Promise<unknown> {
  const { name, bufferName, lua } = source(script);
  const commands = client as unknown as Record<string, ScriptCall | undefined>;
  const variant = options.buffers === true ? bufferName : name;
  let call = commands[variant];
  if (call === undefined) {
    client.defineCommand(name, { numberOfKeys: SPECS[script].numberOfKeys, lua });
    call = commands[variant];
    if (call === undefined) throw new Error(`defineCommand did not register ${variant}`);
  }
  return call.call(client, ...keys, ...args);
}

/** The publish command the scripts use for this client. */
export function publishCommand(cluster: boolean): "PUBLISH" | "SPUBLISH" {
  return cluster ? "SPUBLISH" : "PUBLISH";
}
