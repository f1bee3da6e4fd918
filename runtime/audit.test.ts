import { describe, expect, test } from "bun:test";
import { actorOf, scrubDetail } from "./audit.ts";
import { REDACTED } from "./security/secret-patterns.ts";

describe("actorOf", () => {
  test("a user, a key, and an operator acting as a user (the real actor kept as impersonatorId)", () => {
    expect(actorOf({ kind: "user", userId: "u-1" })).toEqual({ kind: "user", userId: "u-1" });
    expect(actorOf({ kind: "api_key", userId: "u-1", keyId: "k-1" })).toEqual({
      kind: "api_key",
      userId: "u-1",
      keyId: "k-1",
    });
    expect(actorOf({ kind: "user", userId: "u-1", actor: { userId: "u-op" } })).toEqual({
      kind: "user",
      userId: "u-1",
      impersonatorId: "u-op",
    });
    expect(actorOf({ kind: "operator", userId: null })).toEqual({ kind: "operator", userId: null });
  });
});

describe("scrubDetail", () => {
  test("keys that name a secret are redacted whatever their value", () => {
    expect(
      scrubDetail({ password: "x", new_password: "y", refresh_token: "z", api_key: "k", client_secret: "s", n: 1 }),
    ).toEqual({
      password: REDACTED,
      new_password: REDACTED,
      refresh_token: REDACTED,
      api_key: REDACTED,
      client_secret: REDACTED,
      n: 1,
    });
  });

  test("values shaped like a secret are redacted under any key", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJlc2ln";
    expect(
      scrubDetail({
        name: `ara_live_${"Q".repeat(43)}`,
        note: `Bearer ${"x".repeat(20)}`,
        jwt,
        url: "postgres://app:hunter22@db/x",
        email: "ada@example.com",
        prefix: "ara_live_Ab3d",
      }),
    ).toEqual({
      name: REDACTED,
      note: REDACTED,
      jwt: REDACTED,
      url: REDACTED,
      email: "ada@example.com",
      prefix: "ara_live_Ab3d",
    });
  });

  test("long strings are cut; no detail is null", () => {
    expect(String(scrubDetail({ s: "y".repeat(1000) })?.s).length).toBeLessThan(300);
    expect(scrubDetail(undefined)).toBeNull();
  });
});
