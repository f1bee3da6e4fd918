/**
 * How the one error mapper (app.ts) answers a stored secret that cannot be opened, instead of a
 * bare 500:
 *
 * - the key it was sealed with is not configured (KeyNotFoundError): 503 `encryption_key_missing`
 *   with `key_id` and what the operator must do; the data is intact and the request works once the
 *   key is back;
 * - its ciphertext does not authenticate (TamperedFieldError: altered in the database, or copied
 *   from another record or field): 500 `stored_secret_tampered`;
 * - its envelope is malformed (EnvelopeFormatError): 500 `stored_secret_malformed`.
 *
 * The client is told the key id, never where the record lives; the log line names the record's
 * table, field and id (for the operator to find it), never a secret.
 *
 * @example
 * const answer = encryptionFailureAnswer(error);
 * if (answer) { log.error(answer.logFields, answer.logMessage); return errorResponse(answer.status, answer.code, answer.message, id, undefined, headers, answer.fields); }
 */
import { EnvelopeFormatError, KeyNotFoundError, TamperedFieldError } from "../security/field-cipher.ts";
import type { ErrorFields } from "./errors.ts";

export interface EncryptionFailureAnswer {
  status: 500 | 503;
  code: "encryption_key_missing" | "stored_secret_tampered" | "stored_secret_malformed";
  message: string;
  /** Beside the code in the body: the key id the record needs (503 only). */
  fields?: ErrorFields;
  /** For the log line: the record's place, never its content. */
  logFields: Record<string, string | null>;
  logMessage: string;
}

/**
 * The answer to `error` when it is a stored secret that cannot be opened; undefined otherwise.
 *
 * @example encryptionFailureAnswer(new KeyNotFoundError("k1", ref, []))?.status // 503
 */
export function encryptionFailureAnswer(error: unknown): EncryptionFailureAnswer | undefined {
  if (error instanceof KeyNotFoundError) {
    const { table, field, id } = error.ref;
    return {
      status: 503,
      code: "encryption_key_missing",
      message: `Key not found: a stored secret this request needs was encrypted with key ${error.keyId}, which this server does not have; an operator must add that key to the server's encryption keys (ARAGORA_ENCRYPTION_KEY, or the key file and a reload), after the active key`,
      fields: { key_id: error.keyId },
      logFields: { error_code: "encryption_key_missing", table, field, record_id: id, key_id: error.keyId },
      logMessage: `Key not found: ${table}.${field} of ${id} needs key ${error.keyId}, which is not configured`,
    };
  }
  if (error instanceof TamperedFieldError) {
    const { table, field, id } = error.ref;
    return {
      status: 500,
      code: "stored_secret_tampered",
      message:
        "a stored secret this request needs does not authenticate: it was altered in the database, or copied from another record; it cannot be used, and the log names the record under this request id",
      logFields: { error_code: "stored_secret_tampered", table, field, record_id: id },
      logMessage: `stored secret tampered: ${table}.${field} of ${id} does not authenticate (altered, or moved from another record or field)`,
    };
  }
  if (error instanceof EnvelopeFormatError) {
    const ref = error.ref;
    return {
      status: 500,
      code: "stored_secret_malformed",
      message:
        "a stored secret this request needs is marked encrypted but its envelope is malformed (or of an unknown version); it cannot be used, and the log names the record under this request id",
      logFields: {
        error_code: "stored_secret_malformed",
        table: ref?.table ?? null,
        field: ref?.field ?? null,
        record_id: ref?.id ?? null,
      },
      logMessage: `stored secret malformed: ${ref === undefined ? "a field" : `${ref.table}.${ref.field} of ${ref.id}`}: its encrypted envelope cannot be read`,
    };
  }
  return undefined;
}
