/**
 * Debates belong to a workspace inside their organisation, through a real server: a debate
 * records the workspace of the principal that started it (a signed-in user's, an API key's, the
 * operator's: each the organisation's default workspace today), its record says so, and the list
 * and the export narrow to one workspace with `workspace_id`, never beyond the caller's
 * organisation (another organisation's workspace id finds nothing).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { TestServer } from "../support/server.ts";
import { call, claimOwner, type Session, startAccessServer } from "./support.ts";

let server: TestServer;
let owner: Session;
/** A signed-up user of a second organisation. */
let stranger: Session;

beforeAll(async () => {
  server = await startAccessServer({ env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "1", ARAGORA_SIGNUP: "open" } });
  owner = await claimOwner(server);
  const signedUp = await call<Session>(server, "POST", "/api/auth/sign-up", {
    body: { email: "stranger@example.com", password: "correct horse battery staple", name: "Stranger" },
  });
  expect(signedUp.status).toBe(201);
  stranger = signedUp.body;
});

afterAll(() => server.stop());

interface RecordBody {
  debate_id: string;
  org_id: string;
  workspace_id: string;
}

const ids = (body: { debates: { debate_id: string }[] }) => body.debates.map((d) => d.debate_id).sort();

async function start(headers: Record<string, string>): Promise<string> {
  const res = await server.fetch("/api/debates", {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ question: "Which workspace is this in?", rounds: 1 }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { debate_id: string }).debate_id;
}

test("a debate records its creator's workspace; the list and export narrow to one, within the organisation", async () => {
  expect(owner.workspace.id).toMatch(/^w-/);
  const key = await call<{ key: string }>(server, "POST", "/api/auth/api-key", {
    token: owner.access_token,
    body: { name: "workspace test" },
  });
  expect(key.status).toBe(201);
  const byUser = await start({ authorization: `Bearer ${owner.access_token}` });
  const byKey = await start({ "x-api-key": key.body.key });
  // The operator acts in the first organisation, the owner's.
  const byOperator = await start({});
  const theirs = await start({ authorization: `Bearer ${stranger.access_token}` });

  for (const id of [byUser, byKey, byOperator]) {
    const record = await call<RecordBody>(server, "GET", `/api/debates/${id}`, { token: owner.access_token });
    expect(record.status).toBe(200);
    expect({ org: record.body.org_id, workspace: record.body.workspace_id }).toEqual({
      org: owner.organisation.id,
      workspace: owner.workspace.id,
    });
  }
  const other = await call<RecordBody>(server, "GET", `/api/debates/${theirs}`, { token: stranger.access_token });
  expect(other.body.workspace_id).toBe(stranger.workspace.id);
  expect(stranger.workspace.id).not.toBe(owner.workspace.id);

  const list = (token: string, query: string) =>
    call<{ debates: { debate_id: string }[] }>(server, "GET", `/api/debates${query}`, { token });
  const ours = [byUser, byKey, byOperator].sort();
  expect(ids((await list(owner.access_token, `?workspace_id=${owner.workspace.id}`)).body)).toEqual(ours);
  expect(ids((await list(owner.access_token, "")).body)).toEqual(ours);
  // Another organisation's workspace is not a way into it.
  expect(ids((await list(owner.access_token, `?workspace_id=${stranger.workspace.id}`)).body)).toEqual([]);
  expect(ids((await list(stranger.access_token, `?workspace_id=${stranger.workspace.id}`)).body)).toEqual([theirs]);
  expect(ids((await list(owner.access_token, "?workspace_id=w-none")).body)).toEqual([]);
  const empty = await list(owner.access_token, "?workspace_id=");
  expect(empty.status).toBe(422);
  expect(JSON.stringify(empty.body)).toContain("query.workspace_id");

  const exported = async (workspace: string) => {
    const res = await fetch(`${server.api}/api/debates/export?format=jsonl&workspace_id=${workspace}`, {
      headers: { authorization: `Bearer ${owner.access_token}` },
    });
    expect(res.status).toBe(200);
    const lines = (await res.text()).trim().split("\n").filter(Boolean);
    return lines.map((l) => (JSON.parse(l) as RecordBody).debate_id).sort();
  };
  expect(await exported(owner.workspace.id)).toEqual(ours);
  expect(await exported(stranger.workspace.id)).toEqual([]);
});
