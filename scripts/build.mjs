// Builds the package: tsc to dist/, the Lua scripts and static assets beside
// their modules, and the browser bundles with esbuild. `--client` builds only
// the browser bundles (what `npm start` needs when run from a checkout).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const clientOnly = process.argv.includes("--client");

async function bundleClient() {
  const entry = join(root, "client", "browser.ts");
  if (!existsSync(entry)) return;
  const esbuild = await import("esbuild");
  mkdirSync(join(root, "dist", "client"), { recursive: true });
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "iife",
    globalName: "RedisProgressClient",
    // es2022 keeps native #private fields (every browser since 2021); lowering
    // them to WeakMaps costs about 1 KB gzipped.
    target: "es2022",
    outfile: join(root, "dist", "client", "redis-progress.js"),
    sourcemap: true,
    logLevel: "warning",
  });
  await esbuild.build({
    entryPoints: [join(root, "client", "index.ts")],
    bundle: true,
    format: "esm",
    target: "es2022",
    external: ["socket.io-client"],
    outfile: join(root, "dist", "client", "index.mjs"),
    logLevel: "warning",
  });
}

if (!clientOnly) {
  execFileSync(
    process.execPath,
    [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
  cpSync(join(root, "shared", "tracker", "lua"), join(root, "dist", "shared", "tracker", "lua"), {
    recursive: true,
  });
  if (existsSync(join(root, "server", "public"))) {
    cpSync(join(root, "server", "public"), join(root, "dist", "server", "public"), {
      recursive: true,
    });
  }
}
await bundleClient();
