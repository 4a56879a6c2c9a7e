/** Collects benchmark rows, prints them as markdown tables and writes them as JSON under bench/results/. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type Cell = string | number | null;
export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  notes?: string[];
}

function format(cell: Cell): string {
  if (cell === null) return "–";
  if (typeof cell === "number") {
    if (!Number.isFinite(cell)) return String(cell);
    if (Number.isInteger(cell)) return cell.toLocaleString("en-US");
    return Math.abs(cell) >= 100
      ? cell.toFixed(0)
      : Math.abs(cell) >= 10
        ? cell.toFixed(1)
        : cell.toFixed(2);
  }
  return cell;
}

export function markdown(table: Table): string {
  const lines = [
    `### ${table.title}`,
    "",
    `| ${table.columns.join(" | ")} |`,
    `| ${table.columns.map(() => "---").join(" | ")} |`,
  ];
  for (const row of table.rows) lines.push(`| ${row.map(format).join(" | ")} |`);
  for (const note of table.notes ?? []) lines.push("", note);
  return lines.join("\n");
}

/** Writes all tables as JSON to <dir>/<name>-<timestamp>.json (dir: bench/results) and returns the path. */
export function writeResults(
  name: string,
  tables: Table[],
  meta: Record<string, unknown>,
  dir = join(__dirname, "..", "results"),
): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify({ meta, tables }, null, 2)}\n`);
  return file;
}

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The p-th percentile (0..100) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}
