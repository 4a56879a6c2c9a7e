/** Finding programs on PATH without a shell. */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The path of the executable `name` in a directory of PATH, or undefined. */
export function findExecutable(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The redis-server to run: REDISMS_SYSTEM_BINARY, or the one on PATH (never a downloaded one). */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.REDISMS_SYSTEM_BINARY || findExecutable("redis-server", env);
}
