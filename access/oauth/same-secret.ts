/**
 * Constant-time string equality for values an attacker may probe (states, verifiers): hashing both
 * first makes the comparison independent of where they differ and of their lengths.
 *
 * @example
 * sameSecret(url.searchParams.get("state") ?? "", pending.state); // true only when equal
 */
import { createHash, timingSafeEqual } from "node:crypto";

export function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
