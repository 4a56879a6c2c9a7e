/**
 * The package as npm packs it: `files` ships only dist/, which is not in git,
 * so a pack must build first. `prepack` does where lifecycle scripts run, and
 * `npm run pack:release` does under the project's own `.npmrc`
 * (`ignore-scripts=true`, which skips prepack). Each test packs (dry run) a
 * copy of the sources without dist/ and checks that every entry point that
 * package.json names is in the tarball.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
/** What a pack needs: not the tests, the benchmarks, git or an earlier build. */
const LEFT_OUT = new Set([
  ".git",
  ".ci",
  "node_modules",
  "dist",
  "test",
  "test-output",
  "bench",
  "coverage",
]);

interface PackageJson {
  name: string;
  main: string;
  types: string;
  exports: unknown;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
}

function readPackage(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageJson;
}

const copies: string[] = [];

afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the sources (and the .npmrc) without dist/, sharing node_modules. */
function sourceCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "redis-progress-pack-"));
  copies.push(dir);
  cpSync(ROOT, dir, {
    recursive: true,
    filter: (source) => source === ROOT || !LEFT_OUT.has(source.slice(ROOT.length + 1)),
  });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/** Runs npm in `cwd` with no npm_config_* inherited (from an `npm test`, say). */
function npm(cwd: string, args: string[]): string {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith("npm_config_")) env[name] = value;
  }
  env.npm_config_update_notifier = "false";
  const result = spawnSync("npm", args, { cwd, env, encoding: "utf8", timeout: 120_000 });
  if (result.status !== 0) {
    throw new Error(`npm ${args.join(" ")} exited ${result.status}:\n${result.stderr}`);
  }
  return result.stdout;
}

/** The packed paths from `npm pack --json` output (`npm run` prints its banner first). */
function packedFiles(stdout: string): Set<string> {
  const start = stdout.search(/^\[/m);
  if (start < 0) throw new Error(`no JSON in npm's output:\n${stdout}`);
  const [pack] = JSON.parse(stdout.slice(start)) as [{ files: { path: string }[] }];
  return new Set(pack.files.map((file) => file.path));
}

/** Every file package.json points at: main, types, exports' targets, bins. */
function entryPoints(): string[] {
  const pkg = readPackage(ROOT);
  const targets: string[] = [pkg.main, pkg.types, ...Object.values(pkg.bin)];
  const walk = (value: unknown): void => {
    if (typeof value === "string") targets.push(value);
    else if (value !== null && typeof value === "object") Object.values(value).forEach(walk);
  };
  walk(pkg.exports);
  return [...new Set(targets.map((target) => target.replace(/^\.\//, "")))];
}

function expectComplete(files: Set<string>): void {
  const targets = entryPoints();
  expect(targets).toContain("dist/server/cli.js");
  expect(targets.filter((target) => !files.has(target))).toEqual([]);
  // Read at run time by the tracker, beside its compiled module.
  expect([...files].some((f) => /^dist\/shared\/tracker\/lua\/.+\.lua$/.test(f))).toBe(true);
}

/**
 * The packages that the published .d.ts files import whose types a user would
 * not get from `dependencies`: neither shipping their own nor with an
 * `@types/` package there. Their imports would be `any`, or fail under tsc.
 */
function untypedImports(dir: string): string[] {
  const pkg = readPackage(dir);
  const imported = new Set<string>();
  const files = readdirSync(join(dir, "dist"), { recursive: true, encoding: "utf8" });
  for (const file of files.filter((f) => f.endsWith(".d.ts"))) {
    const text = readFileSync(join(dir, "dist", file), "utf8");
    for (const [, specifier] of text.matchAll(/(?:from|import\()\s*"([^".][^"]*)"/g)) {
      const parts = (specifier as string).split("/");
      imported.add(parts[0]?.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string));
    }
  }
  return [...imported].filter((name) => {
    if (name.startsWith("node:") || name === pkg.name) return false; // @types/node comes with socket.io
    if (`@types/${name}` in pkg.dependencies) return false;
    if (!(name in pkg.dependencies)) return true;
    const own = readPackage(join(dir, "node_modules", name)) as PackageJson & { typings?: string };
    return !own.types && !own.typings && !existsSync(join(dir, "node_modules", name, "index.d.ts"));
  });
}

test("npm pack builds first (prepack) where lifecycle scripts run", () => {
  const dir = sourceCopy();
  expectComplete(packedFiles(npm(dir, ["pack", "--dry-run", "--json", "--ignore-scripts=false"])));
  // express has no types of its own: @types/express must be a dependency.
  expect(untypedImports(dir)).toEqual([]);
}, 180_000);

test("npm run pack:release builds and packs under the project's ignore-scripts=true", () => {
  const dir = sourceCopy();
  expect(readFileSync(join(dir, ".npmrc"), "utf8")).toMatch(/^ignore-scripts=true$/m);
  expectComplete(packedFiles(npm(dir, ["run", "pack:release", "--", "--dry-run", "--json"])));
}, 180_000);
