/**
 * `aragora cleanup --analyze-only`: how much space each part of the data dir takes, and the
 * report lines the command prints for a plan, an analysis and a result.
 *
 * @example
 * const report = analyzeDataDir(".nomic");
 * process.stdout.write(formatAnalysis(report));
 */
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { formatBytes } from "../actions/db-files.ts";
import type { CleanupResult } from "./apply.ts";
import { LAYOUT } from "./layout.ts";
import type { CleanupPlan } from "./plan.ts";

export interface StorageUsage {
  entries: number;
  bytes: number;
}

export interface StorageReport {
  dataDir: string;
  /** databases (top-level files with their -wal/-shm), each LAYOUT folder, and everything else. */
  usage: Record<string, StorageUsage>;
  totalBytes: number;
}

function treeBytes(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const child of readdirSync(path)) total += treeBytes(join(path, child));
  return total;
}

/**
 * Bytes and entry counts per part of the data dir; reads only.
 *
 * @example
 * analyzeDataDir(".nomic").usage.backups; // { entries: 6, bytes: 1048576 }
 */
export function analyzeDataDir(dataDir: string): StorageReport {
  const usage: Record<string, StorageUsage> = { databases: { entries: 0, bytes: 0 } };
  for (const folder of Object.values(LAYOUT)) usage[folder] = { entries: 0, bytes: 0 };
  usage.other = { entries: 0, bytes: 0 };
  const folders = new Set<string>(Object.values(LAYOUT));
  if (existsSync(dataDir)) {
    for (const name of readdirSync(dataDir)) {
      const path = join(dataDir, name);
      const bytes = treeBytes(path);
      let bucket: StorageUsage;
      if (folders.has(name) && lstatSync(path).isDirectory()) {
        bucket = usage[name] as StorageUsage;
        bucket.entries += readdirSync(path).length;
        bucket.bytes += bytes;
        continue;
      }
      if (/\.(db|sqlite|sqlite3)(-wal|-shm|-journal)?$/.test(name)) bucket = usage.databases as StorageUsage;
      else bucket = usage.other as StorageUsage;
      bucket.entries += 1;
      bucket.bytes += bytes;
    }
  }
  const totalBytes = Object.values(usage).reduce((n, u) => n + u.bytes, 0);
  return { dataDir, usage, totalBytes };
}

/** The analysis as an aligned table. @example formatAnalysis(analyzeDataDir(".nomic")) */
export function formatAnalysis(report: StorageReport): string {
  const lines = [`storage in ${report.dataDir}:`, ""];
  const rows = Object.entries(report.usage).map(([name, u]) => [name, String(u.entries), formatBytes(u.bytes)]);
  rows.push(["total", "", formatBytes(report.totalBytes)]);
  const widths = [0, 1, 2].map((i) =>
    Math.max(...rows.map((r) => (r[i] ?? "").length), ["PART", "ENTRIES", "SIZE"][i]?.length ?? 0),
  );
  const line = (r: string[]) =>
    `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")}`;
  lines.push(line(["PART", "ENTRIES", "SIZE"]), ...rows.map(line));
  return `${lines.join("\n")}\n`;
}

/**
 * What a plan would remove, one line per entry, then the total it frees.
 *
 * @example
 * formatPlan(plan, true); // "would remove backups/aragora-backup-...tar.gz (1.2 MiB): backup, 9.0 days old ..."
 */
export function formatPlan(plan: CleanupPlan, dryRun: boolean): string {
  const verb = dryRun ? "would remove" : "removing";
  const lines = plan.candidates.map((c) => `${verb} ${c.relativePath} (${formatBytes(c.bytes)}): ${c.reason}`);
  for (const p of plan.protected) lines.push(`keeping ${p.relativePath}: ${p.reason}`);
  if (plan.candidates.length === 0) lines.push("nothing to clean up");
  else {
    lines.push(
      `${dryRun ? "would free" : "frees"} ${formatBytes(plan.totalBytes)} (${plan.totalBytes} bytes) in ${plan.candidates.length} entries`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The outcome of an applied cleanup. @example formatResult(result) // "removed 3 entries, freed 2.0 MiB" */
export function formatResult(result: CleanupResult): string {
  const lines = [
    `removed ${result.removed.length} entries, freed ${formatBytes(result.freedBytes)} (${result.freedBytes} bytes)`,
  ];
  if (result.archive) lines.push(`archived to ${result.archive}`);
  for (const s of result.skipped) lines.push(`kept ${s}: changed since the plan was made`);
  return `${lines.join("\n")}\n`;
}
