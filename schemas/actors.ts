/** The actor tree and dead letters as the admin API shows them. */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

const node = lazy(() =>
  type({
    path: "string",
    name: "string",
    kind: "string",
    status: "string",
    mailboxDepth: "number.integer >= 0",
    restarts: "number.integer >= 0",
    children: "object[]",
  }).describe("one actor; children has the same shape"),
);

export const DeadLetterView = lazy(() =>
  type({
    at: "string",
    sender: "string | null",
    target: "string",
    message_type: "string",
    reason: "string",
  }),
);

export const ActorsResponse = lazy(() =>
  type({
    tree: node.or("null"),
    dead_letters: { total: "number.integer >= 0", recent: DeadLetterView.array() },
  }),
);
