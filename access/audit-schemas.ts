/**
 * GET /api/admin/audit: its query and its answer. The answer describes entries as they are
 * stored, even when someone edited the table: its fields are typed loosely enough (an outcome is
 * a string, a detail any JSON) that a tampered entry is shown, and the chain verdict says what is
 * wrong with it, rather than the route failing.
 */
import { type } from "arktype";
import { isoInstant } from "../schemas/debates.ts";
import { lazy } from "../schemas/lazy.ts";

export const AuditQuery = lazy(() =>
  type({
    "action?": "1 <= string <= 100",
    "actor_user_id?": "1 <= string <= 128",
    "outcome?": "'success' | 'failure'",
    "since?": isoInstant,
    "until?": isoInstant,
    "limit?": "string.integer.parse |> 1 <= number.integer <= 500",
    "cursor?": type(/^al-[0-9a-f-]{36}$/).describe("the next_cursor of a previous page"),
    "org_id?": "1 <= string <= 128",
    "+": "reject",
  }),
);

const AuditEntryBody = lazy(() =>
  type({
    id: "string",
    /** The organisation's id, or "platform". */
    chain: "string",
    seq: "number.integer",
    at: "string",
    org_id: "string | null",
    action: "string",
    outcome: "string",
    actor: {
      kind: "string",
      user_id: "string | null",
      key_id: "string | null",
      impersonator_id: "string | null",
    },
    target: type({ type: "string | null", id: "string | null" }).or("null"),
    ip: "string | null",
    request_id: "string | null",
    detail: "unknown",
    prev_hash: "string",
    hash: "string",
  }),
);

const CHAIN_BREAKS = lazy(() => type("'edited' | 'removed' | 'inserted' | 'reordered' | 'truncated'"));

/** A chain's verdict: whole (its head and length), or where it first breaks and why. */
export const ChainVerdictBody = lazy(() =>
  type({
    chain: "string",
    ok: "true",
    head: "string",
    length: "number.integer",
  }).or({
    chain: "string",
    ok: "false",
    index: "number.integer",
    entry_id: "string | null",
    seq: "number.integer | null",
    reason: CHAIN_BREAKS,
  }),
);

export const AuditListResponse = lazy(() =>
  type({
    entries: AuditEntryBody.array(),
    next_cursor: "string | null",
    /** The verdict over every chain in scope: the first break, or whole. */
    chain: ChainVerdictBody,
    /** Each chain in scope on its own. */
    chains: ChainVerdictBody.array(),
  }),
);
