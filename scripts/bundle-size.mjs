// Prints the browser bundle's size, minified and gzipped: the whole bundle
// served at /redis-progress.js, and our own code (SDK + renderer + the shared
// isomorphic pieces) apart from socket.io-client, measured by building the
// same entry with socket.io-client left external.
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

async function measure(external) {
  const result = await esbuild.build({
    entryPoints: [join(root, "client", "browser.ts")],
    bundle: true,
    minify: true,
    format: "iife",
    globalName: "RedisProgressClient",
    target: "es2022",
    external,
    write: false,
    metafile: true,
    logLevel: "warning",
  });
  const code = result.outputFiles[0].contents;
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length, meta: result.metafile };
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const whole = await measure([]);
const ours = await measure(["socket.io-client"]);
const output = Object.values(whole.meta.outputs)[0];
const byPackage = {};
for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
  const pkg = file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? "(our code)";
  byPackage[pkg] = (byPackage[pkg] ?? 0) + bytesInOutput;
}

console.log("redis-progress.js (minified)         min        gzip");
console.log(
  `whole bundle                    ${kb(whole.min).padStart(9)}  ${kb(whole.gzip).padStart(9)}`,
);
console.log(
  `our code (socket.io-client out) ${kb(ours.min).padStart(9)}  ${kb(ours.gzip).padStart(9)}`,
);
console.log("\nminified bytes in the whole bundle, by package:");
for (const [pkg, bytes] of Object.entries(byPackage).sort((a, b) => b[1] - a[1])) {
  console.log(`  ${pkg.padEnd(30)} ${kb(bytes).padStart(9)}`);
}
if (process.argv.includes("--json")) {
  console.log(
    JSON.stringify({
      whole: { min: whole.min, gzip: whole.gzip },
      ours: { min: ours.min, gzip: ours.gzip },
    }),
  );
}
