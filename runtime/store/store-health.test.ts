import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { StoreHealth, StoreUnavailableError, storeFailureReason } from "./store-health.ts";

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

test("storage failures are classified from SQLite and PostgreSQL codes; answers from the store are not", () => {
  const db = new Database(":memory:");
  db.run("CREATE TABLE t (x PRIMARY KEY)");
  db.run("INSERT INTO t VALUES (1)");
  let constraint: unknown;
  try {
    db.run("INSERT INTO t VALUES (1)");
  } catch (err) {
    constraint = err;
  }
  expect(storeFailureReason(constraint)).toBeNull();
  expect(
    storeFailureReason(Object.assign(new Error("full"), { name: "SQLiteError", code: "SQLITE_FULL", errno: 13 })),
  ).toBe("full");
  expect(
    storeFailureReason(Object.assign(new Error("x"), { name: "SQLiteError", code: "SQLITE_IOERR_WRITE", errno: 778 })),
  ).toBe("io_error");
  expect(storeFailureReason(Object.assign(new Error("x"), { code: "SQLITE_NOTADB" }))).toBe("corrupt");
  expect(storeFailureReason(Object.assign(new Error("x"), { code: "SQLITE_READONLY_DBMOVED" }))).toBe("read_only");
  expect(storeFailureReason(pgError("53100"))).toBe("full");
  expect(storeFailureReason(pgError("55P03"))).toBe("locked");
  expect(storeFailureReason(pgError("ECONNREFUSED"))).toBe("unavailable");
  expect(storeFailureReason(pgError("23505"))).toBeNull();
  expect(storeFailureReason(new Error("wrapped", { cause: pgError("53100") }))).toBe("full");
  expect(storeFailureReason(new StoreUnavailableError("debates", "corrupt"))).toBe("corrupt");
});

test("a failing part makes the store unwritable until its write or its probe goes through; waiters are released", async () => {
  const health = new StoreHealth("unit");
  let probeFails = true;
  health.addProbe("debates", async () => {
    if (probeFails) throw pgError("55P03");
  });
  expect(health.failed("debates", pgError("23505"))).toBeNull();
  expect(health.writable).toBe(true);
  expect(health.failed("debates", pgError("55P03"))).toBe("locked");
  expect(health.snapshot().failing).toEqual([
    expect.objectContaining({ part: "debates", reason: "locked", failures: 1 }),
  ]);
  let released = false;
  const waiting = health.whenWritable().then(() => {
    released = true;
  });
  await Bun.sleep(1200);
  expect(released).toBe(false);
  probeFails = false;
  await waiting;
  expect(health.writable).toBe(true);
  health.failed("event_log", pgError("53100"));
  health.succeeded("event_log");
  expect(health.writable).toBe(true);
  const aborted = new AbortController();
  health.failed("event_log", pgError("53100"));
  const refused = health.whenWritable(aborted.signal);
  aborted.abort(new Error("shutdown"));
  await expect(refused).rejects.toThrow("shutdown");
  health.stop();
});
