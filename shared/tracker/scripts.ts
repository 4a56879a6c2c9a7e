/**
 * Loads the Lua scripts once and registers them on a connection with
 * `defineCommand` (EVALSHA, with EVAL on NOSCRIPT). Each command name carries
 * the script's hash, so two deployments with different scripts never collide.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, type Cluster, type Redis } from "ioredis";

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
  /** The script's SHA-1, as EVALSHA takes it. */
  sha: string;
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
    const sha = createHash("sha1").update(lua).digest("hex");
    const name = `redisProgress_${script}_${sha.slice(0, 10)}`;
    entry = { name, bufferName: `${name}Buffer`, lua, sha };
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

/**
 * Sends one of our scripts as a bare EVALSHA on a standalone connection,
 * replying with bytes: what `runScript(…, { buffers: true })` sends, without
 * ioredis's command function and Script around it (argument copies, a closure
 * and a promise chain per call). On a worker writing a few times a second that
 * code runs cold each time, and it cost the update more than the tracker's own
 * work (bench/README.md). A NOSCRIPT reply (a restarted or flushed Redis) runs
 * the script again through `runScript`, which loads it.
 */
export function sendScript(
  client: Redis,
  script: ScriptName,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  const { sha } = source(script);
  const keyPrefix = client.options.keyPrefix;
  const command = new Command(
    "evalsha",
    [sha, String(SPECS[script].numberOfKeys), ...keys, ...args],
    keyPrefix ? { replyEncoding: null, keyPrefix } : { replyEncoding: null },
  );
  client.sendCommand(command);
  return (command.promise as Promise<unknown>).catch((error: unknown) => {
    if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
    return runScript(client, script, keys, args, { buffers: true });
  });
}

/** Sends a PING whose answer nobody needs (see the tracker's write); never rejects. */
export function sendPing(client: Redis): void {
  const ping = new Command("ping");
  client.sendCommand(ping);
  (ping.promise as Promise<unknown>).catch(() => {});
}

/** The publish command the scripts use for this client. */
export function publishCommand(cluster: boolean): "PUBLISH" | "SPUBLISH" {
  return cluster ? "SPUBLISH" : "PUBLISH";
}
