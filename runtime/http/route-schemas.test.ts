import { expect, test } from "bun:test";
import "../arktype-config.ts";
import { type } from "arktype";
import { HttpError } from "./errors.ts";
import { validated } from "./route-schemas.ts";

const Body = type({ "+": "reject", "refresh_token?": "string" }).or("null");

function refusal(value: unknown): HttpError {
  try {
    (validated(Body, "body")["~standard"] as { validate(v: unknown): unknown }).validate(value);
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error("accepted");
}

test("a refusal is the mapper's 422 naming the field and the rule", () => {
  let err: HttpError | undefined;
  try {
    (validated(type({ refresh_token: "string" }), "body")["~standard"] as { validate(v: unknown): unknown }).validate({
      refresh_token: 42,
    });
  } catch (e) {
    err = e as HttpError;
  }
  expect(err?.status).toBe(422);
  expect(err?.details?.[0]?.field).toBe("body.refresh_token");
});

test("a key named like an Object.prototype member is refused, never a crash (ArkType's union message throws on it)", () => {
  for (const key of ["constructor", "toString", "hasOwnProperty"]) {
    const err = refusal(JSON.parse(`{"refresh_token":"x","${key}":1}`));
    expect(err.status).toBe(422);
    expect(err.details?.length).toBeGreaterThan(0);
  }
});
