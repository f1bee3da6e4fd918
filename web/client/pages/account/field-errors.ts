/**
 * Where a refusal belongs on a form: the server names the fields it refuses (`details[].field`,
 * `body.code`), so its message is shown under each of those the form has; anything else (a
 * refusal of no field here, a network failure) is the form's notice.
 *
 * @example
 * const { fields, notice } = placeError(err, ["body.password"]);
 * <Field label="Password" error={fields["body.password"]} ... />
 */
import { ApiError } from "../../api.ts";
import { messageOf } from "../../ui.tsx";

export interface PlacedError {
  /** The server's message by field name (`body.code`), for the fields of the form it names. */
  fields: Record<string, string>;
  /** What belongs to no field of the form. */
  notice?: string;
}

/**
 * Places `err` on a form whose fields are `formFields` (the server's names for them). `byCode`
 * words a refusal of no field for a person, by the server's error code, where its own message
 * speaks to an API client (`no_pending_enrolment`: "POST /api/auth/mfa/totp/enroll").
 *
 * @example placeError(new ApiError(403, "invalid_mfa_code", "wrong code", [{ field: "body.code", rule: "..." }]), ["body.code"]);
 * // { fields: { "body.code": "Wrong code." } }
 */
export function placeError(err: unknown, formFields: string[], byCode: Record<string, string> = {}): PlacedError {
  if (!(err instanceof ApiError)) return { fields: {}, notice: messageOf(err) };
  const worded = byCode[err.code];
  if (worded !== undefined) return { fields: {}, notice: worded };
  const fields: Record<string, string> = {};
  for (const problem of err.details) {
    if (formFields.includes(problem.field)) fields[problem.field] = sentence(err.message);
  }
  return Object.keys(fields).length > 0 ? { fields } : { fields, notice: sentence(messageOf(err)) };
}

/** The server's lower-case message as a sentence for a person. */
function sentence(message: string): string {
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?)]$/.test(text) ? text : `${text}.`;
}
