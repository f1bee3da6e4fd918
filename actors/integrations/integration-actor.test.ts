import { expect, test } from "bun:test";
import { Writable } from "node:stream";
import type { OutboundRequest } from "../../runtime/http/outbound.ts";
import { createLogger } from "../../runtime/log.ts";
import type { QueuedDelivery } from "../delivery/target-actor.ts";
import { integrationLink } from "./integration-actor.ts";
import type { IntegrationRow } from "./integration-store.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const outcome = {
  debate_id: "d-1",
  question: "Tabs?",
  status: "completed",
  consensus: null,
  rounds_completed: 1,
  agents: ["a", "b"],
  finished_at: "2026-12-05T00:00:00.000Z",
};
const delivery: QueuedDelivery = {
  id: "idl-1",
  eventType: "debate_end",
  payload: JSON.stringify(outcome),
  attempts: 0,
  retryBase: 0,
  dueAt: 0,
};

test("an integration's credentials are opened once for as long as its row keeps them, again once replaced", async () => {
  let row = { id: "int-1", orgId: "org-1", kind: "slack", settings: "{}", credentials: "sealed-1" } as IntegrationRow;
  const opened: string[] = [];
  const sent: string[] = [];
  const link = integrationLink(
    {
      integrations: {
        byId: async () => row,
        // What the sealed text opens to: the URL it names.
        secretsOf: (r) => {
          opened.push(r.credentials);
          return { webhook_url: `https://hooks.example/${r.credentials}` };
        },
        disable: async () => {},
      },
      store: { refreshToken: async () => row, invalidate: () => {} } as never,
      send: async (request: OutboundRequest) => {
        sent.push(request.url);
        return { status: 200, headers: new Headers(), body: "ok", latencyMs: 1 };
      },
      timeoutMs: 1000,
      log: quiet,
      now: () => Date.now(),
    },
    "int-1",
  );
  await link.load();
  for (let n = 1; n <= 3; n++)
    expect((await link.attempt(delivery, n, Date.now(), () => true)).verdict).toBe("delivered");
  expect(opened).toEqual(["sealed-1"]);
  // A person replaced the credentials: the next attempt opens and uses the new ones.
  row = { ...row, credentials: "sealed-2" };
  await link.load();
  await link.attempt(delivery, 4, Date.now(), () => true);
  expect(opened).toEqual(["sealed-1", "sealed-2"]);
  expect(sent).toEqual([...Array(3).fill("https://hooks.example/sealed-1"), "https://hooks.example/sealed-2"]);
});
