/**
 * `aragora receipt verify FILE [--public-key FILE]`: check a decision receipt offline (no server,
 * no database) and say what was tampered with. Exit 0 when valid, 1 when not, 2 on bad usage.
 *
 * @example
 * curl -s localhost:8080/api/debates/d-42/receipt > r.json
 * curl -s localhost:8080/api/receipts/public-key | jq -r .public_key > key.pem
 * aragora receipt verify r.json --public-key key.pem
 */
import { readFileSync } from "node:fs";
import { type Command, EXIT, UsageError } from "../../runtime/command.ts";
import { type ReceiptDoc, verifyReceipt } from "./receipt.ts";

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

export const receiptCommand: Command = {
  name: "receipt",
  summary: "verify a decision receipt offline",
  usage: "aragora receipt verify FILE [--public-key FILE] [--json]",
  details:
    "FILE is the JSON from GET /api/debates/:id/receipt. --public-key pins the signer (PEM, e.g. the public_key of\nGET /api/receipts/public-key); without it the key embedded in the receipt is used, which proves integrity\nbut not who signed. Exit 0: valid; 1: tampered or malformed (each problem is printed); 2: bad usage or unreadable file.",
  options: {
    "public-key": {
      type: "string",
      description: "PEM file (or a JSON file with a public_key field) of the signing key",
    },
    json: { type: "boolean", description: "print the result as JSON" },
  },
  async run({ positionals, values }) {
    const [action, file, ...rest] = positionals;
    if (action !== "verify" || !file || rest.length > 0) throw new UsageError("expected: receipt verify FILE");
    let doc: unknown;
    try {
      doc = JSON.parse(readText(file, "receipt"));
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`${file} is not JSON: ${(err as Error).message}`);
    }
    let pem: string | undefined;
    const keyFile = values["public-key"];
    if (typeof keyFile === "string") {
      const text = readText(keyFile, "public key");
      if (text.trimStart().startsWith("{")) {
        let key: unknown;
        try {
          key = (JSON.parse(text) as { public_key?: unknown }).public_key;
        } catch (err) {
          throw new UsageError(`${keyFile} is neither a PEM file nor JSON: ${(err as Error).message}`);
        }
        if (typeof key !== "string") throw new UsageError(`${keyFile} has no public_key string`);
        pem = key;
      } else pem = text;
    }
    const result = verifyReceipt(doc, pem);
    const claimed = (doc as { receipt?: { debate_id?: unknown } } | null)?.receipt?.debate_id;
    const id = typeof claimed === "string" && claimed.isWellFormed() ? claimed : "?";
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ debate_id: id, ...result })}\n`);
    } else if (result.ok) {
      process.stdout.write(
        `receipt for ${id}: valid (signature verified with the ${result.keySource} key ${String((doc as ReceiptDoc).key_id)}; ${result.events} events in the hash chain)\n`,
      );
      if (result.keySource === "embedded") {
        process.stdout.write(
          "note: pass --public-key to check who signed it; the embedded key only proves integrity\n",
        );
      }
    } else {
      process.stdout.write(`receipt for ${id}: INVALID\n${result.problems.map((p) => `  - ${p}`).join("\n")}\n`);
    }
    return result.ok ? EXIT.ok : EXIT.failure;
  },
};
