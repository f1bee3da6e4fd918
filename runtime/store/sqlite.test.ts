import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDataDir } from "../../tests/support/services.ts";
import { openSqliteDatabase } from "./sqlite.ts";

describe("openSqliteDatabase", () => {
  test("sets WAL, busy_timeout, foreign_keys and synchronous=NORMAL on the connection", () => {
    const dir = tempDataDir();
    const db = openSqliteDatabase(join(dir.path, "core.db"), 1234);
    try {
      const pragma = (name: string) => Object.values(db.query(`PRAGMA ${name}`).get() as object)[0];
      expect(pragma("journal_mode")).toBe("wal");
      expect(pragma("busy_timeout")).toBe(1234);
      expect(pragma("foreign_keys")).toBe(1);
      expect(pragma("synchronous")).toBe(1); // NORMAL
    } finally {
      db.close();
      dir.remove();
    }
  });
});
