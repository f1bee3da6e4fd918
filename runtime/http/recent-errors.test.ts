import { describe, expect, test } from "bun:test";
import { errorMessageOf, RecentErrors } from "./recent-errors.ts";

const add = (r: RecentErrors, n: number) =>
  r.add({
    requestId: `r-${n}`,
    method: "GET",
    route: "/x",
    status: 500,
    code: "internal_error",
    error: new Error(`e${n}`),
  });

describe("RecentErrors", () => {
  test("keeps the newest `capacity` errors, newest first, and counts every one", () => {
    const r = new RecentErrors(3);
    expect(r.list(10)).toEqual([]);
    for (let n = 1; n <= 5; n++) add(r, n);
    expect(r.list(10).map((e) => e.request_id)).toEqual(["r-5", "r-4", "r-3"]);
    expect(r.list(2).map((e) => e.request_id)).toEqual(["r-5", "r-4"]);
    expect(r.total).toBe(5);
  });
});

describe("errorMessageOf", () => {
  test("the first line only: no stack", () => {
    const err = new Error("boom");
    expect(errorMessageOf(err)).toBe("boom");
    expect(errorMessageOf(new Error("first\n    at secret/path.ts:1:1"))).toBe("first");
    expect(errorMessageOf(new TypeError("bad"))).toBe("TypeError: bad");
  });

  test("secrets are redacted: tokens, JWTs, bearer values, URL passwords", () => {
    const token = `ara_live_${"x".repeat(43)}`;
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJlc2ln";
    const message = errorMessageOf(
      new Error(`key ${token} jwt ${jwt} header Bearer abcdefghijklmnop url postgres://app:hunter22@db:5432/x`),
    );
    for (const secret of [token, jwt, "abcdefghijklmnop", "hunter22"]) expect(message).not.toContain(secret);
    expect(message).toContain("postgres://app:[redacted]@db:5432/x");
  });

  test("long messages are cut", () => {
    expect(errorMessageOf(new Error("y".repeat(1000))).length).toBeLessThanOrEqual(303);
  });
});
