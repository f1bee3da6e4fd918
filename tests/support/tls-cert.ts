/**
 * A self-signed certificate for test host names, made by the stock `openssl` once per process,
 * so tests can serve https on 127.0.0.1 under a name (`hooks.test`) and check that a client sends
 * that name (SNI) and verifies the certificate against it.
 *
 * @example
 * const { key, cert } = testCertificate();   // valid for hooks.test and *.hooks.test
 * Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { key, cert }, fetch: () => new Response("ok") });
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./server.ts";

export interface TestCertificate {
  readonly key: string;
  readonly cert: string;
  /** The names the certificate is valid for. */
  readonly names: readonly string[];
}

let made: TestCertificate | undefined;

/** The certificate for `hooks.test` and `*.hooks.test` (made on first use). */
export function testCertificate(): TestCertificate {
  if (made !== undefined) return made;
  const dir = tempDir("aragora-tls-");
  const names = ["hooks.test", "*.hooks.test"];
  try {
    const run = Bun.spawnSync([
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=hooks.test",
      "-addext",
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`,
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ]);
    if (run.exitCode !== 0) throw new Error(`openssl failed: ${run.stderr.toString()}`);
    made = {
      key: readFileSync(join(dir, "key.pem"), "utf8"),
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
      names,
    };
    return made;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
