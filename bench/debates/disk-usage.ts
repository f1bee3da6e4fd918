/**
 * Bytes on disk per debate in an SQLite `core.db`: the pages of every debate table with its indexes
 * (SQLite's dbstat, so free pages and the WAL's stale copies do not count), divided by the debates
 * stored, beside the floor no layout can go under: the bytes of the events' own JSON. Read through a
 * read-only SQLite connection, so it is safe on a database a server has open.
 *
 * @example
 * const disk = diskPerDebate(".nomic/core.db");
 * console.log(disk.bytes, disk.floor, disk.tables.debate_receipts);
 */
import { Database } from "bun:sqlite";
import type { BenchResult } from "../result.ts";

export interface DiskPerDebate {
  debates: number;
  /** Pages of the debate tables and their indexes, per debate. */
  bytes: number;
  /** The events' JSON as published, per debate. */
  floor: number;
  /** Bytes per debate of each table (with its indexes). */
  tables: Record<string, number>;
}

export function diskPerDebate(dbPath: string): DiskPerDebate {
  const db = new Database(dbPath, { readonly: true });
  try {
    const debates = db.query<{ n: number }, []>("SELECT count(*) AS n FROM debates").get()?.n ?? 0;
    const per = (n: number) => n / Math.max(debates, 1);
    const rows = db
      .query<{ tbl: string; bytes: number }, []>(
        `SELECT s.tbl_name AS tbl, sum(d.pgsize) AS bytes FROM dbstat AS d JOIN sqlite_schema AS s ON s.name = d.name
         WHERE s.tbl_name LIKE 'debate%' OR s.tbl_name = 'elo_ratings' GROUP BY s.tbl_name ORDER BY bytes DESC`,
      )
      .all();
    const events =
      db.query<{ n: number | null }, []>("SELECT sum(length(CAST(events AS BLOB))) AS n FROM debate_event_chunks").get()
        ?.n ?? 0;
    return {
      debates,
      bytes: per(rows.reduce((n, r) => n + r.bytes, 0)),
      floor: per(events),
      tables: Object.fromEntries(rows.map((r) => [r.tbl, Math.round(per(r.bytes))])),
    };
  } finally {
    db.close();
  }
}

/**
 * The report row: bytes on disk per debate beside the events' own bytes, with each table's share.
 *
 * @example results.push(diskRow("overhead's debates", diskPerDebate(path)));
 */
export function diskRow(what: string, disk: DiskPerDebate): BenchResult {
  const tables = Object.entries(disk.tables)
    .map(([t, b]) => `${t} ${b}`)
    .join(", ");
  return {
    name: `bytes on disk per debate (${what}; ${disk.debates} debates; floor: the events' JSON)`,
    value: disk.bytes,
    unit: "bytes",
    floor: disk.floor,
    ratio: disk.bytes / disk.floor,
    goal: `reported; per table with its indexes: ${tables}`,
    pass: true,
  };
}
