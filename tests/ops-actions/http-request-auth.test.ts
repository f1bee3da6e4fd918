/**
 * `http.request` sends the operator's credential only when the step asks (`auth: operator`): the
 * configured ARAGORA_API_TOKEN, else the handoff token of the server holding the data dir, and a
 * clear failure when neither exists. A step without it sends no Authorization of ours.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpRequestAction } from "../../ops/actions/http-request.ts";
import { writeOpsToken } from "../../ops/handoff.ts";
import { actionContext } from "./context.ts";

const seen: (string | null)[] = [];
let server: ReturnType<typeof Bun.serve>;
let url: string;
const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "aragora-http-auth-"));
  dirs.push(dir);
  return dir;
};

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      seen.push(request.headers.get("authorization"));
      return Response.json({ ok: true });
    },
  });
  url = `http://127.0.0.1:${server.port}/api/agents/health`;
});
afterAll(() => {
  server.stop(true);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("without auth: operator, no Authorization is sent, even with ARAGORA_API_TOKEN set", async () => {
  const ctx = actionContext(freshDir(), { env: { ARAGORA_API_TOKEN: "operator-token-0123456789" } });
  seen.length = 0;
  await httpRequestAction.run({ url }, ctx);
  expect(seen).toEqual([null]);
});

test("auth: operator sends ARAGORA_API_TOKEN, else the data dir's handoff token", async () => {
  seen.length = 0;
  const configured = actionContext(freshDir(), { env: { ARAGORA_API_TOKEN: "operator-token-0123456789" } });
  expect((await httpRequestAction.run({ url, auth: "operator" }, configured)).status).toBe(200);
  const dir = freshDir();
  const handoff = writeOpsToken(dir);
  expect((await httpRequestAction.run({ url, auth: "operator" }, actionContext(dir))).status).toBe(200);
  expect(seen).toEqual(["Bearer operator-token-0123456789", `Bearer ${handoff}`]);
});

test("auth: operator with no credential anywhere fails the step and sends nothing", async () => {
  seen.length = 0;
  await expect(httpRequestAction.run({ url, auth: "operator" }, actionContext(freshDir()))).rejects.toThrow(
    "auth: operator needs ARAGORA_API_TOKEN",
  );
  expect(seen).toEqual([]);
});
