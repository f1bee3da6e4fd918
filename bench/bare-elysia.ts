/**
 * The floor for bench/http.ts's API routes: bare Elysia serving the same two routes with only what
 * they need: `GET /api/debates/:id` reads the debate's row (a prepared bun:sqlite statement on a
 * `VACUUM INTO` copy of the server's database) and answers its JSON; `POST /api/debates` validates
 * the body with the server's own schema (schemas/debates.ts, arktype in the same jitless mode:
 * Elysia takes it as a Standard Schema) and answers 422. No request ids, logs, metrics, body gate,
 * auth order or error mapper: what the server adds on top is what the benchmark measures, not the
 * speed of one validator against another.
 *
 * @example
 * bun bench/bare-elysia.ts 18082 /tmp/copy.db
 */
import "../runtime/arktype-config.ts";
import { Database } from "bun:sqlite";
import { Elysia } from "elysia";
import { CreateDebateBody } from "../schemas/debates.ts";

const port = Number(process.argv[2] ?? 0);
const db = new Database(process.argv[3] as string, { readonly: true });
const byId = db.query<Record<string, unknown>, [string]>("SELECT * FROM debates WHERE id = ?");
const json = (s: unknown) => (typeof s === "string" ? JSON.parse(s) : null);

new Elysia()
  .get("/api/debates/:id", ({ params, status }) => {
    const r = byId.get(params.id);
    if (!r) return status(404, { error: "not_found" });
    return {
      id: r.id,
      question: r.question,
      config: json(r.config),
      metadata: json(r.metadata),
      status: r.status,
      stop_reason: r.stop_reason,
      consensus: json(r.consensus),
      baseline: json(r.baseline),
      summary: json(r.summary),
      last_seq: r.last_seq,
      created_at: new Date(Number(r.created_at)).toISOString(),
      finished_at: r.finished_at === null ? null : new Date(Number(r.finished_at)).toISOString(),
    };
  })
  .post("/api/debates", ({ body }) => ({ debate_id: body.question }), { body: CreateDebateBody })
  .listen(port);
