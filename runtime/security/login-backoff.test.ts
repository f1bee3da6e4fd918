import { describe, expect, test } from "bun:test";
import { SimulatedClock } from "../actor/clock.ts";
import { createLoginBackoff, type LoginBackoffOptions } from "./login-backoff.ts";

function setup(options: LoginBackoffOptions = {}) {
  const clock = new SimulatedClock(5_000_000);
  const backoff = createLoginBackoff({ now: () => clock.now(), ...options });
  return { clock, backoff };
}

describe("per account", () => {
  test("5 failures are free; then waits of 1 s, 2 s, 4 s ... capped at 15 min", () => {
    const { clock, backoff } = setup();
    for (let i = 0; i < 5; i++) expect(backoff.attempt("alice", `10.0.0.${i}`)).toEqual({ allowed: true });
    const waits: number[] = [];
    for (let i = 0; i < 13; i++) {
      const gate = backoff.attempt("alice", `10.0.1.${i}`);
      if (gate.allowed) throw new Error("expected a lockout");
      expect(gate.by).toBe("account");
      waits.push(gate.retryAfterSeconds);
      clock.advance(gate.retryAfterSeconds * 1000 - 1);
      expect(backoff.attempt("alice", `10.0.2.${i}`).allowed).toBe(false);
      clock.advance(1);
      expect(backoff.attempt("alice", `10.0.3.${i}`).allowed).toBe(true);
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]);
  });

  test("a success clears the account's failures", () => {
    const { backoff } = setup();
    for (let i = 0; i < 5; i++) backoff.attempt("alice", "10.0.0.1");
    backoff.recordSuccess("alice", "10.0.0.1");
    for (let i = 0; i < 5; i++) expect(backoff.attempt("alice", "10.0.0.1").allowed).toBe(true);
    expect(backoff.attempt("alice", "10.0.0.1").allowed).toBe(false);
  });

  test("a parallel burst gets only the free attempts: each is counted when it starts, not when it fails", () => {
    const { backoff } = setup();
    const gates = Array.from({ length: 100 }, (_, i) => backoff.attempt("alice", `10.9.${i}.1`));
    expect(gates.filter((g) => g.allowed)).toHaveLength(5);
  });

  test("refused attempts do not lengthen the lockout", () => {
    const { clock, backoff } = setup();
    for (let i = 0; i < 5; i++) backoff.attempt("alice", "10.0.0.1");
    for (let i = 0; i < 50; i++) expect(backoff.attempt("alice", "10.0.0.1").allowed).toBe(false);
    clock.advance(1000);
    expect(backoff.attempt("alice", "10.0.0.1").allowed).toBe(true);
    expect(backoff.attempt("alice", "10.0.0.1")).toMatchObject({ allowed: false, retryAfterSeconds: 2 });
  });

  test("accounts are independent", () => {
    const { backoff } = setup();
    for (let i = 0; i < 5; i++) backoff.attempt("alice", `10.0.0.${i}`);
    expect(backoff.attempt("alice", "10.1.0.0").allowed).toBe(false);
    expect(backoff.attempt("bob", "10.1.0.0").allowed).toBe(true);
  });
});

describe("per IP", () => {
  test("one address trying many accounts is locked after 20 failures, whatever the accounts", () => {
    const { backoff } = setup();
    for (let i = 0; i < 20; i++) expect(backoff.attempt(`user${i}`, "203.0.113.7").allowed).toBe(true);
    expect(backoff.attempt("user99", "203.0.113.7")).toEqual({ allowed: false, by: "ip", retryAfterSeconds: 1 });
    expect(backoff.attempt("user99", "198.51.100.1").allowed).toBe(true);
  });

  test("IPv6 addresses are counted by their /64: moving inside it does not reset the count", () => {
    const { backoff } = setup();
    for (let i = 0; i < 20; i++)
      expect(backoff.attempt(`user${i}`, `2001:db8:5:5::${i.toString(16)}`).allowed).toBe(true);
    expect(backoff.attempt("user99", "2001:db8:5:5:ffff::1")).toMatchObject({ allowed: false, by: "ip" });
    expect(backoff.attempt("user99", "2001:db8:5:6::1").allowed).toBe(true);
  });

  test("logging into one's own account between guesses does not clear the IP's failures", () => {
    const { clock, backoff } = setup();
    for (let i = 0; i < 20; i++) {
      expect(backoff.attempt("attacker", "203.0.113.7").allowed).toBe(true);
      backoff.recordSuccess("attacker", "203.0.113.7");
      clock.advance(10);
      expect(backoff.attempt(`victim${i}`, "203.0.113.7").allowed).toBe(true);
    }
    expect(backoff.attempt("victim99", "203.0.113.7")).toMatchObject({ allowed: false, by: "ip" });
  });

  test("a success takes back its own attempt, so honest users sharing an address do not lock it", () => {
    const { backoff } = setup();
    for (let i = 0; i < 200; i++) {
      expect(backoff.attempt(`user${i}`, "192.0.2.1").allowed).toBe(true);
      backoff.recordSuccess(`user${i}`, "192.0.2.1");
    }
    expect(backoff.size).toBe(0);
  });
});

describe("memory", () => {
  test("counters quiet for longer than forgetAfterMs start from zero and are dropped", () => {
    const { clock, backoff } = setup({ forgetAfterMs: 3_600_000 });
    // Older counters, so alice's is not among those the sweep drops first.
    for (const other of ["x", "y", "z"]) backoff.attempt(other, `10.9.9.${other}`);
    for (let i = 0; i < 7; i++) {
      clock.advance(60_000);
      expect(backoff.attempt("alice", "10.0.0.1").allowed).toBe(true);
    }
    expect(backoff.attempt("alice", "10.0.0.1")).toMatchObject({ allowed: false, retryAfterSeconds: 4 });
    clock.advance(3_600_001);
    // From zero again: five free attempts, not an 8 s wait after the eighth.
    for (let i = 0; i < 5; i++) expect(backoff.attempt("alice", "10.0.0.1").allowed).toBe(true);
    expect(backoff.attempt("alice", "10.0.0.1")).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    clock.advance(3_600_001);
    for (let i = 0; i < 3; i++) backoff.attempt("carol", "10.0.0.2");
    expect(backoff.size).toBe(2);
  });

  test("never more than maxEntries counters of each kind", () => {
    const { backoff } = setup({ maxEntries: 10 });
    for (let i = 0; i < 1000; i++) backoff.attempt(`user${i}`, `10.0.${i >> 8}.${i & 255}`);
    expect(backoff.size).toBe(20);
  });
});

describe("options", () => {
  test("custom policies apply, and nonsense is refused", () => {
    const { backoff } = setup({ account: { freeFailures: 0, baseDelayMs: 500 } });
    expect(backoff.attempt("a", "1").allowed).toBe(true);
    expect(backoff.attempt("a", "1")).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    expect(() => createLoginBackoff({ account: { freeFailures: -1 } })).toThrow(/freeFailures/);
    expect(() => createLoginBackoff({ ip: { baseDelayMs: 10, maxDelayMs: 5 } })).toThrow(/delays/);
    expect(() => createLoginBackoff({ forgetAfterMs: 60_000 })).toThrow(/forgetAfterMs/);
    expect(() => createLoginBackoff({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
