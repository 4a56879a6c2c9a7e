/**
 * Abuse 15: the dependency floor. The registry's audit endpoint does not answer
 * here, so this test asserts that every installed copy of the packages on the
 * wire path (and what package-lock.json pins for `npm ci`) is at or above the
 * first version that fixes its published advisories.
 *
 * Advisories found (search of public advisory threads, September 2026):
 * - socket.io       CVE-2024-38355 / GHSA-25hc-qcg6-38wj  crafted packet kills the process   fixed 4.6.2
 * - engine.io       CVE-2022-41940 / GHSA-r7qp-cfhv-p84w  uncaught exception                fixed 6.2.1
 *                   CVE-2023-31125 / GHSA-q9mw-68c2-j6m5  uncaught exception                fixed 6.4.2
 *                   CVE-2026-59725  DoS via invalid binary POST requests                    fixed 6.6.7
 *                   (6.6.8 / 6.6.9 raise their ws to ~8.20.1 / ~8.21.0 for the two ws CVEs below)
 *                                                                                          floor 6.6.9
 * - ws              CVE-2024-37890 / GHSA-3h5v-q93c-6h6q  DoS by many headers               fixed 8.17.1
 *                   CVE-2026-45736 / GHSA-58qx-3vcg-4xpx  uninitialized memory disclosure   fixed 8.20.1
 *                   CVE-2026-48779 / GHSA-96hv-2xvq-fx4p  memory exhaustion, tiny fragments fixed 8.21.0
 * - socket.io-parser CVE-2023-32695 / GHSA-cqmj-92xf-r6r9 insufficient validation          fixed 4.2.3
 *                   CVE-2026-33151 / GHSA-677m-j7p3-52f9  unbounded binary attachments      fixed 4.2.6
 *                   CVE-2026-69185  memory exhaustion from crafted packets (newer than
 *                                   the 4.2.6 the issue names)                              fixed 4.2.7
 * - engine.io-client 6.6.5 raised its ws for CVE-2026-45736; its ws copy is checked as ws  floor 6.6.5
 * - socket.io-client no advisory of its own; its parser and engine.io-client are checked   floor 4.8.0
 * - cookie (engine.io's) CVE-2024-47764 / GHSA-pxg6-pf52-xh8x  cookie name/path injection fixed 0.7.0
 *
 * Nothing installed lags, so package.json needs no `overrides` today. When a
 * new advisory appears, raise its floor here; if a transitive copy then lags,
 * add an `overrides` entry and refresh package-lock.json.
 */
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");

const FLOORS: Record<string, string> = {
  "socket.io": "4.6.2",
  "engine.io": "6.6.9",
  ws: "8.21.0",
  "socket.io-parser": "4.2.7",
  "engine.io-client": "6.6.5",
  "socket.io-client": "4.8.0",
  cookie: "0.7.0",
};

function compare(a: string, b: string): number {
  const parse = (v: string) => v.split("-")[0]?.split(".").map(Number) ?? [];
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Every installed copy of `name`: path → version (nested node_modules included). */
function installed(name: string): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (modules: string, depth: number) => {
    if (depth > 6 || !existsSync(modules)) return;
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (entry.name.startsWith("@")) {
        for (const scoped of readdirSync(join(modules, entry.name), { withFileTypes: true })) {
          if (scoped.isDirectory())
            walk(join(modules, entry.name, scoped.name, "node_modules"), depth + 1);
        }
        continue;
      }
      const dir = join(modules, entry.name);
      if (entry.name === name && existsSync(join(dir, "package.json"))) {
        const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
          version: string;
        };
        found[dir.slice(ROOT.length + 1)] = pkg.version;
      }
      walk(join(dir, "node_modules"), depth + 1);
    }
  };
  walk(join(ROOT, "node_modules"), 0);
  return found;
}

test.each(Object.entries(FLOORS))("every installed %s is at or above %s", (name, floor) => {
  const copies = installed(name);
  expect(Object.keys(copies).length).toBeGreaterThan(0);
  for (const [path, version] of Object.entries(copies)) {
    expect([path, version, compare(version, floor) >= 0]).toEqual([path, version, true]);
  }
});

test("package-lock.json pins no copy below its floor (what npm ci installs)", () => {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string }>;
  };
  let checked = 0;
  for (const [path, entry] of Object.entries(lock.packages)) {
    const name = path.split("node_modules/").at(-1) ?? "";
    const floor = FLOORS[name];
    if (floor === undefined || entry.version === undefined) continue;
    checked += 1;
    expect([path, entry.version, compare(entry.version, floor) >= 0]).toEqual([
      path,
      entry.version,
      true,
    ]);
  }
  expect(checked).toBeGreaterThanOrEqual(Object.keys(FLOORS).length);
});
