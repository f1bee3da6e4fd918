/** The one error body every 4xx and 5xx response carries. */
import { type } from "arktype";

export const FieldProblem = type({
  field: "string",
  rule: "string",
});

export const ErrorBody = type({
  error: "string",
  message: "string",
  request_id: "string",
  "details?": FieldProblem.array(),
}).describe("error: a stable machine code; message: for humans; details: one entry per invalid field");

export type ErrorBody = typeof ErrorBody.infer;
