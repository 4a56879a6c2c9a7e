/** Finding programs on PATH without a shell. */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { InvalidArgumentError } from "../shared/errors/invalid-argument-error";

/**
 * Why `path` cannot be run, or undefined when it is an executable regular
 * file. X_OK alone is not enough: it holds for a directory too.
 */
function notExecutable(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return "is not a regular file";
    accessSync(path, constants.X_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "does not exist";
    if (code === "EACCES") return "is not executable";
    return `cannot be checked (${code ?? (error as Error).message})`;
  }
}

/** The path of the executable `name` in a directory of PATH, or undefined. */
export function findExecutable(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (notExecutable(candidate) === undefined) return candidate;
  }
  return undefined;
}

/**
 * The redis-server to run: REDISMS_SYSTEM_BINARY, or the one on PATH (never a
 * downloaded one).
 *
 * @throws InvalidArgumentError naming REDISMS_SYSTEM_BINARY when it is set but
 *   not an executable file: redis-memory-server would otherwise ignore it and
 *   download a Redis, which is what this project promises never to do.
 */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const configured = env.REDISMS_SYSTEM_BINARY;
  if (configured === undefined || configured === "") return findExecutable("redis-server", env);
  const reason = notExecutable(configured);
  if (reason !== undefined) {
    throw new InvalidArgumentError(
      `REDISMS_SYSTEM_BINARY=${JSON.stringify(configured)} ${reason}: point it at a ` +
        "redis-server binary, or unset it to use the redis-server on PATH",
    );
  }
  return configured;
}
