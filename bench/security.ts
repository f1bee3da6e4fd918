/**
 * The cost of the security primitives on the request path (`bun bench/security.ts`, `--json` for
 * one machine-readable object): verifying an access token (runtime/security/jwt.ts) beside the
 * floor of one HMAC-SHA-256 over the same bytes with node:crypto; a permission check
 * (runtime/security/rbac.ts) timed call by call, as its p99; a rate-limiter take; and, for scale,
 * one argon2id password verification (which runs on Bun's thread pool, not the event loop).
 * Goals: a token verify under 100 us (most of it is WebCrypto's asynchronous HMAC, which jose
 * uses), a permission check under 5 us at p99.
 *
 * Benchmarks are measurements, not tests: nothing here fails CI.
 */
import { createHmac } from "node:crypto";
import { createTokenSigner } from "../runtime/security/jwt.ts";
import { hashPassword, verifyPassword } from "../runtime/security/password.ts";
import { createTokenBucketLimiter } from "../runtime/security/rate-limiter.ts";
import { PERMISSIONS, policy } from "../runtime/security/rbac.ts";
import { p99Micros } from "./call-timing.ts";
import type { BenchResult } from "./result.ts";

const json = process.argv.includes("--json");

/** Mean microseconds per call over about `budgetMs` of calls, after a warm-up. */
async function perCall(fn: () => Promise<unknown> | unknown, budgetMs = 1500): Promise<number> {
  for (let i = 0; i < 200; i++) await fn();
  let calls = 0;
  const started = performance.now();
  while (performance.now() - started < budgetMs) {
    await fn();
    calls++;
  }
  return ((performance.now() - started) * 1000) / calls;
}

const secret = "bench-secret-bench-secret-bench-secret-0123";
const signer = createTokenSigner({ secret, issuer: "https://bench", audience: "aragora-api", accessTtlSeconds: 900 });
const token = await signer.signAccess({ sub: "acc_1", org: "org_1", roles: ["member"], sid: "ses_1" });
const signingInput = token.slice(0, token.lastIndexOf("."));
const results: BenchResult[] = [];

{
  const floor = await perCall(() => createHmac("sha256", secret).update(signingInput).digest());
  const value = await perCall(async () => {
    if (!(await signer.verifyAccess(token)).ok) throw new Error("bench token did not verify");
  });
  results.push({
    name: "jwt_verify",
    value,
    unit: "us",
    floor,
    ratio: value / floor,
    goal: "< 100 us",
    pass: value < 100,
  });
  const sign = await perCall(() => signer.signAccess({ sub: "acc_1", org: "org_1", roles: ["member"] }));
  results.push({ name: "jwt_sign", value: sign, unit: "us" });
}

{
  let i = 0;
  const roles = ["viewer", "member"];
  const check = () => policy.can(roles, PERMISSIONS[i++ % PERMISSIONS.length] as string);
  const value = p99Micros(check);
  results.push({ name: "rbac_can_p99", value, unit: "us", goal: "< 5 us", pass: value < 5 });
  results.push({ name: "rbac_can_mean", value: await perCall(check, 500), unit: "us" });
}

{
  const limiter = createTokenBucketLimiter({ capacity: 100, refillPerSecond: 10 });
  let i = 0;
  results.push({ name: "rate_limit_take_p99", value: p99Micros(() => limiter.take(`ip:${i++ % 5000}`)), unit: "us" });
}

{
  const hash = await hashPassword("correct horse battery staple");
  results.push({
    name: "password_verify",
    value: await perCall(() => verifyPassword("correct horse battery staple", hash), 2000),
    unit: "us",
  });
}

if (json) {
  console.log(JSON.stringify({ bun: Bun.version, results }));
} else {
  const fmt = (n: number | undefined) => (n === undefined ? "" : n.toLocaleString("en", { maximumFractionDigits: 2 }));
  console.log(
    `${"name".padEnd(22)} ${"value".padStart(10)} ${"unit".padEnd(4)} ${"floor".padStart(10)} ${"ratio".padStart(7)}  goal`,
  );
  for (const r of results) {
    const verdict = r.pass === undefined ? "" : r.pass ? "PASS" : "MISS";
    console.log(
      `${r.name.padEnd(22)} ${fmt(r.value).padStart(10)} ${r.unit.padEnd(4)} ${fmt(r.floor).padStart(10)} ${(r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`).padStart(7)}  ${r.goal ?? ""} ${verdict}`,
    );
  }
}
