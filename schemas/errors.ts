/** The one error body every 4xx and 5xx response carries. */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

export const FieldProblem = lazy(() =>
  type({
    field: "string",
    rule: "string",
  }),
);

export const ErrorBody = lazy(() =>
  type({
    error: "string",
    message: "string",
    request_id: "string",
    "details?": FieldProblem.array(),
  }).describe("error: a stable machine code; message: for humans; details: one entry per invalid field"),
);

export type ErrorBody = typeof ErrorBody.infer;
