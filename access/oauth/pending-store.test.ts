import { describe, expect, test } from "bun:test";
import { createPendingStore, type PendingAuthorization } from "./pending-store.ts";

function flow(state: string): PendingAuthorization {
  return { state, codeVerifier: `verifier-${state}`, nonce: `nonce-${state}`, returnTo: `/after/${state}` };
}

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe("pending sign-ins", () => {
  test("a started sign-in is handed back once, for its provider, with the browser's matching state", () => {
    const store = createPendingStore();
    store.put("google", flow("s1"));
    expect(store.take("google", "s1", "s1")).toEqual(flow("s1"));
    expect(store.take("google", "s1", "s1")).toBeUndefined();
    expect(store.size).toBe(0);
  });

  test("the stored copy is not the caller's object, and holds only the flow's four fields", () => {
    const store = createPendingStore();
    const started = { ...flow("s1"), url: new URL("https://idp.example/auth?state=s1") };
    store.put("google", started);
    started.returnTo = "https://evil.example/";
    expect(store.take("google", "s1", "s1")).toEqual(flow("s1"));
  });

  test("an unknown, missing or empty state finds nothing", () => {
    const store = createPendingStore();
    store.put("google", flow("s1"));
    expect(store.take("google", "s2", "s2")).toBeUndefined();
    expect(store.take("google", null, "s1")).toBeUndefined();
    expect(store.take("google", undefined, undefined)).toBeUndefined();
    expect(store.take("google", "", "")).toBeUndefined();
    expect(store.size).toBe(1);
  });

  test("a callback without the browser's cookie, or with another state in it, is refused and uses the entry up", () => {
    const store = createPendingStore();
    store.put("google", flow("attacker"));
    store.put("google", flow("victim"));
    // The attacker's callback link opened in the victim's browser: the victim's cookie holds "victim".
    expect(store.take("google", "attacker", "victim")).toBeUndefined();
    expect(store.take("google", "attacker", "attacker")).toBeUndefined();
    store.put("google", flow("s3"));
    expect(store.take("google", "s3", undefined)).toBeUndefined();
    expect(store.take("google", "s3", "s3")).toBeUndefined();
    expect(store.take("google", "victim", "victim")).toEqual(flow("victim"));
  });

  test("a sign-in started for one provider does not complete on another's callback", () => {
    const store = createPendingStore();
    store.put("google", flow("s1"));
    expect(store.take("oidc", "s1", "s1")).toBeUndefined();
    expect(store.take("google", "s1", "s1")).toBeUndefined();
  });

  test("a sign-in expires after the TTL (10 minutes by default)", () => {
    const clock = manualClock();
    const store = createPendingStore({ now: clock.now });
    store.put("google", flow("s1"));
    store.put("google", flow("s2"));
    clock.advance(600_000 - 1);
    expect(store.take("google", "s1", "s1")).toEqual(flow("s1"));
    clock.advance(1);
    expect(store.take("google", "s2", "s2")).toBeUndefined();
  });

  test("expired sign-ins are swept when new ones arrive", () => {
    const clock = manualClock();
    const store = createPendingStore({ ttlMs: 1000, now: clock.now });
    store.put("google", flow("s1"));
    store.put("google", flow("s2"));
    clock.advance(1000);
    store.put("google", flow("s3"));
    expect(store.size).toBe(1);
  });

  test("the store is bounded: past maxEntries the oldest sign-in goes", () => {
    const store = createPendingStore({ maxEntries: 3 });
    for (const state of ["s1", "s2", "s3", "s4"]) store.put("google", flow(state));
    expect(store.size).toBe(3);
    expect(store.take("google", "s1", "s1")).toBeUndefined();
    for (const state of ["s2", "s3", "s4"]) expect(store.take("google", state, state)).toEqual(flow(state));
  });

  test("nonsense limits are refused", () => {
    expect(() => createPendingStore({ ttlMs: 0 })).toThrow(TypeError);
    expect(() => createPendingStore({ maxEntries: 0 })).toThrow(TypeError);
    expect(() => createPendingStore({ maxEntries: 1.5 })).toThrow(TypeError);
  });
});
