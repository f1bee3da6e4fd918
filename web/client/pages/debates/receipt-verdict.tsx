/**
 * The verdict on one receipt as the person reads it: "Valid" with what was checked, or
 * "Tampered:" with each check that failed (field, event or signature), announced when it appears.
 *
 * @example <ReceiptVerdict result={await verifyReceipt(doc, key)} source="the debate's receipt" />
 */
import type { VerifyResult } from "./receipt-verify.ts";

export function ReceiptVerdict({ result, keyId }: { result: VerifyResult; keyId: string }) {
  if (result.ok) {
    return (
      <div class="notice notice-success verdict" role="status">
        <p>
          <strong>Valid</strong>: signed by this server's key {keyId}; every field matches its digest and the hash chain
          of {result.events} events is unbroken{result.debateId ? ` (debate ${result.debateId})` : ""}.
        </p>
      </div>
    );
  }
  return (
    <div class="notice notice-error verdict" role="alert">
      <p>
        <strong>Tampered</strong>: {result.problems[0]}
      </p>
      {result.problems.length > 1 && (
        <ul>
          {result.problems.slice(1).map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
