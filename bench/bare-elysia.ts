/**
 * The floor for bench/http.ts's API routes: bare Elysia serving the same two routes with only what
 * they need, answering the same bytes: `GET /api/debates/:id` reads the debate's row (a prepared
 * bun:sqlite statement on a `VACUUM INTO` copy of the server's database) and answers it through the
 * server's own view (debateRecord: the record as the API shows it); `POST /api/debates` validates
 * the body with the server's own schema (schemas/debates.ts, arktype in the same jitless mode:
 * Elysia takes it as a Standard Schema) and answers 422 with a compact body in the server's error
 * shape (Elysia's default error is a larger, pretty-printed document that would flatter the
 * server). No request ids, logs, metrics, body gate, auth, rate limits or organisation scoping:
 * what the server adds on top is what the benchmark measures, not the speed of one validator
 * against another nor a smaller answer.
 *
 * @example
 * bun bench/bare-elysia.ts 18082 /tmp/copy.db
 */
import "../runtime/arktype-config.ts";
import { Database } from "bun:sqlite";
import { Elysia } from "elysia";
import { debateRecord } from "../actors/debate/debate-export.ts";
import type { DebateRow } from "../actors/debate/debate-store.ts";
import { CreateDebateBody } from "../schemas/debates.ts";

const port = Number(process.argv[2] ?? 0);
const db = new Database(process.argv[3] as string, { readonly: true });
const byId = db.query<Record<string, unknown>, [string]>("SELECT * FROM debates WHERE id = ?");
const json = (s: unknown) => (typeof s === "string" ? JSON.parse(s) : null);
const at = (ms: unknown) => (ms === null ? null : new Date(Number(ms)));

new Elysia()
  .onError(({ code, error, set }) => {
    if (code !== "VALIDATION") return;
    set.status = 422;
    return {
      error: "validation_failed",
      message: (error as Error).message.split("\n")[0],
      details: [{ field: "body", rule: "must match the schema" }],
    };
  })
  .get("/api/debates/:id", ({ params, status }) => {
    const r = byId.get(params.id);
    if (!r) return status(404, { error: "not_found" });
    return debateRecord({
      id: r.id as string,
      owner: { userId: r.user_id as string, orgId: r.org_id as string, workspaceId: r.workspace_id as string },
      question: r.question as string,
      config: json(r.config),
      metadata: json(r.metadata),
      status: r.status as DebateRow["status"],
      stopReason: r.stop_reason as string | null,
      error: r.error as string | null,
      consensus: json(r.consensus),
      baseline: json(r.baseline),
      summary: json(r.summary),
      lastSeq: r.last_seq as number,
      eloApplied: r.elo_applied === 1,
      createdAt: at(r.created_at) as Date,
      updatedAt: at(r.updated_at) as Date,
      finishedAt: at(r.finished_at),
    } as DebateRow);
  })
  .post("/api/debates", ({ body }) => ({ debate_id: body.question }), { body: CreateDebateBody })
  .listen(port);
