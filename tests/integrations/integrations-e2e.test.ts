/**
 * Integrations through a real server process (SQLite, then PostgreSQL; an encryption key configured) and the fake
 * Slack, Discord, Teams and OAuth2 services over real HTTP (tests/support/fake-chat.ts,
 * fake-oauth.ts):
 *
 * - only owners and admins (`integrations.manage`) manage integrations; a URL that reaches inside
 *   (private, link-local, metadata: loopback is allowed here only for the fakes) is refused at
 *   registration with a 422 naming the field (webhook_url, token_url, resource_url); credentials
 *   are never answered (set / last four only), sealed at rest, never in a log line;
 * - a debate's outcome arrives at Slack (Block Kit), Discord (an embed) and Teams (an Adaptive
 *   Card), and nothing of it at another organisation's integrations; another organisation cannot
 *   see, change or remove an integration (404);
 * - 429 with Retry-After and 5xx are retried (the wait honoured); 410 Gone disables the
 *   integration, saying why;
 * - the OAuth2 connector refreshes against the token server, the rotated refresh token is stored
 *   sealed and used at the next refresh;
 * - the store's health and metrics (operator only) in the runbook's shapes.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import postgres from "postgres";
import { generateKeyHex } from "../../runtime/security/encryption-keys.ts";
import {
  call,
  claimOwner,
  noSecretsLogged,
  PASSWORD,
  type Session,
  startAccessServer,
  userWithRole,
} from "../access/support.ts";
import {
  type DiscordMessage,
  type FakeChat,
  type SlackMessage,
  startFakeDiscord,
  startFakeSlack,
  startFakeTeams,
  type TeamsMessage,
} from "../support/fake-chat.ts";
import { type FakeTokenServer, startFakeTokenServer } from "../support/fake-oauth.ts";
import type { TestServer } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";

setDefaultTimeout(60_000);

interface IntegrationView {
  id: string;
  kind: string;
  name: string;
  enabled: boolean;
  disabled_reason: string | null;
  settings: Record<string, string>;
  credentials: Record<string, { set: boolean; last_four: string | null }>;
}
interface DeliveryView {
  delivery_id: string;
  debate_id: string;
  state: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
}

/** Polls `check` until it returns a value, or fails after `timeoutMs`. */
async function eventually<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await check();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

const pg = await postgresAvailable();

describe.each([
  ["SQLite", false],
  ["PostgreSQL", true],
])("integrations end to end on %s", (_name, onPostgres) => {
  const skip = onPostgres && !pg;
  let db: TempDatabase | undefined;
  let server: TestServer;
  let owner: Session;
  let member: Session;
  let umbrella: Session;
  let slack: FakeChat<SlackMessage>;
  let discord: FakeChat<DiscordMessage>;
  let teams: FakeChat<TeamsMessage>;
  let theirSlack: FakeChat<SlackMessage>;
  let as: FakeTokenServer;
  const secrets: string[] = [];

  beforeAll(async () => {
    if (skip) return;
    db = onPostgres ? await createTempPostgresDatabase() : undefined;
    [slack, discord, teams, theirSlack] = await Promise.all([
      startFakeSlack(),
      startFakeDiscord(),
      startFakeTeams(),
      startFakeSlack(),
    ]);
    as = await startFakeTokenServer({
      clientId: "aragora-client",
      clientSecret: "client-secret-0123456789",
      refreshToken: "refresh-token-r0-abcdefgh",
    });
    secrets.push(
      slack.webhookUrl,
      discord.webhookUrl,
      teams.webhookUrl,
      "client-secret-0123456789",
      "refresh-token-r0-abcdefgh",
    );
    server = await startAccessServer({
      env: {
        ARAGORA_ENCRYPTION_KEY: generateKeyHex(),
        ARAGORA_SIGNUP: "open",
        ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
        // The fakes listen on loopback, which the server refuses unless told.
        ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true",
        ...(db ? { DATABASE_URL: db.url } : {}),
      },
    });
    owner = await claimOwner(server);
    member = await userWithRole(server, "member", db ? { DATABASE_URL: db.url } : {});
    const signUp = await call<Session>(server, "POST", "/api/auth/sign-up", {
      body: { email: "owner@umbrella.example", password: PASSWORD, name: "Umbrella" },
    });
    expect(signUp.status).toBe(201);
    umbrella = signUp.body;
  });

  afterAll(async () => {
    if (skip) return;
    await server?.stop();
    await Promise.all([slack, discord, teams, theirSlack, as].map((f) => f?.stop()));
    await db?.drop();
  });

  const by = (who: Session) => ({ token: who.access_token });

  async function create(who: Session, body: Record<string, unknown>): Promise<IntegrationView> {
    const res = await call<IntegrationView>(server, "POST", "/api/integrations", { ...by(who), body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    return res.body;
  }

  async function debate(who: Session, question: string): Promise<string> {
    const created = await call<{ debate_id: string }>(server, "POST", "/api/debates", {
      ...by(who),
      body: { question, agents: ["demo:alice", "demo:bob"], rounds: 1 },
    });
    expect(created.status).toBe(201);
    return created.body.debate_id;
  }

  async function deliveries(id: string): Promise<DeliveryView[]> {
    const res = await call<{ deliveries: DeliveryView[] }>(
      server,
      "GET",
      `/api/integrations/${id}/deliveries`,
      by(owner),
    );
    expect(res.status).toBe(200);
    return res.body.deliveries;
  }

  /** The stored credentials column of every integration, read from the database itself. */
  async function storedCredentials(): Promise<{ id: string; credentials: string }[]> {
    if (db) {
      const sql = postgres(db.url, { max: 1, onnotice: () => {} });
      try {
        return (await sql`SELECT id, credentials FROM integrations`) as unknown as {
          id: string;
          credentials: string;
        }[];
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
    const sqlite = new Database(join(server.dataDir, "core.db"), { readonly: true });
    try {
      return sqlite.query("SELECT id, credentials FROM integrations").all() as { id: string; credentials: string }[];
    } finally {
      sqlite.close();
    }
  }

  test.skipIf(skip)(
    "who may manage integrations; a URL reaching inside is refused at registration, naming the field",
    async () => {
      expect((await call(server, "GET", "/api/integrations", by(member))).status).toBe(403);
      const byMember = await call(server, "POST", "/api/integrations", {
        ...by(member),
        body: { kind: "slack", name: "m", webhook_url: slack.webhookUrl },
      });
      expect(byMember.status).toBe(403);
      expect((await fetch(`${server.api}/api/integrations`)).status).toBe(401);

      const oauth = {
        kind: "oauth2",
        name: "api",
        token_url: as.tokenUrl,
        resource_url: as.resourceUrl,
        client_id: "aragora-client",
        client_secret: "client-secret-0123456789",
        refresh_token: "refresh-token-r0-abcdefgh",
      };
      const token = "s3cr3t-path-token";
      for (const [body, field, rule] of [
        [{ kind: "slack", name: "a", webhook_url: `http://10.1.2.3/services/${token}` }, "body.webhook_url", "public"],
        [
          { kind: "discord", name: "a", webhook_url: `http://169.254.169.254/api/webhooks/${token}` },
          "body.webhook_url",
          "",
        ],
        [{ kind: "teams", name: "a", webhook_url: `http://[::ffff:192.168.0.1]/${token}` }, "body.webhook_url", ""],
        [{ ...oauth, token_url: `http://192.168.1.10/oauth/token?${token}` }, "body.token_url", ""],
        [{ ...oauth, resource_url: `http://100.64.0.1/api/${token}` }, "body.resource_url", ""],
        [{ kind: "slack", name: "a" }, "body.webhook_url", "required for slack"],
        [{ ...oauth, refresh_token: undefined }, "body.refresh_token", "required for oauth2"],
        [
          { kind: "slack", name: "a", webhook_url: slack.webhookUrl, token_url: as.tokenUrl },
          "body.token_url",
          "not taken",
        ],
        [{ kind: "irc", name: "a" }, "body.kind", ""],
      ] as const) {
        const res = await call<{ details: { field: string; rule: string }[] }>(server, "POST", "/api/integrations", {
          ...by(owner),
          body,
        });
        expect({ body, status: res.status }).toEqual({ body, status: 422 });
        const detail = res.body.details.find((d) => d.field === field);
        expect({ body, field: detail?.field }).toEqual({ body, field });
        expect(detail?.rule).toContain(rule);
        expect(JSON.stringify(res.body)).not.toContain(token);
      }
      expect((await call<{ integrations: unknown[] }>(server, "GET", "/api/integrations", by(owner))).body).toEqual({
        integrations: [],
      });
    },
  );

  test.skipIf(skip)(
    "a debate's outcome arrives at Slack, Discord and Teams in their formats; other organisations see nothing",
    async () => {
      const s = await create(owner, { kind: "slack", name: "slack", webhook_url: slack.webhookUrl });
      const d = await create(owner, { kind: "discord", name: "discord", webhook_url: discord.webhookUrl });
      const t = await create(owner, { kind: "teams", name: "teams", webhook_url: teams.webhookUrl });
      await create(umbrella, { kind: "slack", name: "theirs", webhook_url: theirSlack.webhookUrl });
      // Credentials never answered: whether set and the last four characters only.
      expect(s.credentials).toEqual({ webhook_url: { set: true, last_four: slack.webhookUrl.slice(-4) } });
      const listed = await call(server, "GET", "/api/integrations", by(owner));
      for (const url of [slack.webhookUrl, discord.webhookUrl, teams.webhookUrl]) {
        expect(JSON.stringify(listed.body)).not.toContain(url);
      }
      // Sealed at rest: an _encrypted envelope, the URL nowhere in the column.
      for (const row of await storedCredentials()) {
        expect(JSON.parse(row.credentials)._encrypted).toBe(true);
        for (const url of [slack.webhookUrl, discord.webhookUrl, teams.webhookUrl])
          expect(row.credentials).not.toContain(url);
      }
      // Another organisation: 404, as a missing one, for every verb.
      expect((await call(server, "GET", `/api/integrations/${s.id}`, by(umbrella))).status).toBe(404);
      expect(
        (await call(server, "PATCH", `/api/integrations/${s.id}`, { ...by(umbrella), body: { enabled: false } }))
          .status,
      ).toBe(404);
      expect((await call(server, "DELETE", `/api/integrations/${s.id}`, by(umbrella))).status).toBe(404);
      expect((await call(server, "GET", `/api/integrations/${s.id}/deliveries`, by(umbrella))).status).toBe(404);
      expect((await call<IntegrationView>(server, "GET", `/api/integrations/${s.id}`, by(owner))).body.enabled).toBe(
        true,
      );

      const question = "Ship the <!channel> release @everyone?";
      const id = await debate(owner, question);
      const sm = await eventually("slack", () => slack.messages.find((m) => JSON.stringify(m).includes(id)));
      const dm = await eventually("discord", () => discord.messages.find((m) => JSON.stringify(m).includes(id)));
      const tm = await eventually("teams", () => teams.messages.find((m) => JSON.stringify(m).includes(id)));
      // Slack: Block Kit, the debate's text escaped (no channel ping).
      const blocks = (sm as unknown as { blocks: { type: string; text?: { text: string } }[] }).blocks;
      expect(blocks[0]?.type).toBe("header");
      expect(blocks[0]?.text?.text).toStartWith("Debate concluded");
      expect(JSON.stringify(blocks)).toContain("&lt;!channel&gt;");
      // Discord: an embed with mentions off.
      const embed = dm as unknown as {
        embeds: { description: string; fields: { name: string }[] }[];
        allowed_mentions: unknown;
      };
      expect(embed.allowed_mentions).toEqual({ parse: [] });
      expect(embed.embeds[0]?.description).toBe(question);
      expect(embed.embeds[0]?.fields.map((f) => f.name)).toContain("Decision");
      // Teams: an Adaptive Card.
      const card = (tm as unknown as { attachments: { contentType: string; content: { type: string } }[] })
        .attachments[0];
      expect(card?.contentType).toBe("application/vnd.microsoft.card.adaptive");
      expect(card?.content.type).toBe("AdaptiveCard");
      for (const integration of [s, d, t]) {
        const [delivery] = await eventually("delivered", async () => {
          const list = await deliveries(integration.id);
          return list[0]?.state === "DELIVERED" ? list : undefined;
        });
        expect(delivery).toMatchObject({ debate_id: id, state: "DELIVERED", attempts: 1 });
      }
      // Nothing of it at the other organisation's Slack.
      expect(theirSlack.received).toEqual([]);
      const theirs = await debate(umbrella, "Their question?");
      await eventually("their slack", () => theirSlack.messages.find((m) => JSON.stringify(m).includes(theirs)));
      expect(slack.messages.some((m) => JSON.stringify(m).includes(theirs))).toBe(false);
    },
  );

  test.skipIf(skip)("429 with Retry-After and 5xx are retried; 410 Gone disables the integration", async () => {
    const all = (await call<{ integrations: IntegrationView[] }>(server, "GET", "/api/integrations", by(owner))).body
      .integrations;
    const named = (name: string) => all.find((i) => i.name === name) as IntegrationView;
    const [slackRow, discordRow, teamsRow] = [named("slack"), named("discord"), named("teams")];
    slack.failNext(slack.faults.rateLimited(2));
    discord.failNext(discord.faults.serverError(), discord.faults.reset());
    teams.failNext(teams.faults.gone());
    const before = { slack: slack.received.length, discord: discord.received.length };
    const id = await debate(owner, "Retry me?");
    // When the 429 was answered and when the next attempt came: Retry-After (2 s) waited, not the first backoff (1 s).
    await eventually("the 429", () => (slack.received.length > before.slack ? true : undefined));
    const rateLimitedAt = Date.now();
    await eventually("slack after 429", () => slack.messages.find((m) => JSON.stringify(m).includes(id)));
    // Over the backoff's 1.1 s at most, with room for this test's own polling under load.
    expect(Date.now() - rateLimitedAt).toBeGreaterThanOrEqual(1500);
    await eventually("discord after 503 and reset", () => discord.messages.find((m) => JSON.stringify(m).includes(id)));
    const slackTries = slack.received.slice(before.slack);
    expect(slackTries.length).toBe(2);
    const discordTries = discord.received.slice(before.discord);
    expect(discordTries.length).toBe(3);
    // The receiver has the message a moment before the server has written the attempt's result.
    const delivered = (row: IntegrationView) =>
      eventually(`${row.name}'s delivery recorded`, async () => {
        const d = (await deliveries(row.id)).find((x) => x.debate_id === id);
        return d?.state === "DELIVERED" ? d : undefined;
      });
    expect(await delivered(slackRow)).toMatchObject({ state: "DELIVERED", attempts: 2 });
    expect(await delivered(discordRow)).toMatchObject({ state: "DELIVERED", attempts: 3 });

    const gone = await eventually("teams disabled", async () => {
      const row = (await call<IntegrationView>(server, "GET", `/api/integrations/${teamsRow.id}`, by(owner))).body;
      return row.enabled ? undefined : row;
    });
    expect(gone.disabled_reason).toContain("410 Gone");
    expect((await deliveries(teamsRow.id)).find((x) => x.debate_id === id)).toMatchObject({
      state: "DEAD_LETTERED",
      last_status: 410,
    });
    // Disabled: the next debate's outcome is not posted there.
    const teamsCount = teams.received.length;
    const next = await debate(owner, "After the 410?");
    await eventually("slack", () => slack.messages.find((m) => JSON.stringify(m).includes(next)));
    await Bun.sleep(300);
    expect(teams.received.length).toBe(teamsCount);
    // Enabled again by a person: the reason is cleared.
    const enabled = await call<IntegrationView>(server, "PATCH", `/api/integrations/${teamsRow.id}`, {
      ...by(owner),
      body: { enabled: true },
    });
    expect(enabled.body).toMatchObject({ enabled: true, disabled_reason: null });
  });

  test.skipIf(skip)(
    "OAuth2: the token is refreshed at the token server; the rotated refresh token is stored sealed and used next",
    async () => {
      const api = await create(owner, {
        kind: "oauth2",
        name: "api",
        token_url: as.tokenUrl,
        resource_url: as.resourceUrl,
        client_id: "aragora-client",
        client_secret: "client-secret-0123456789",
        refresh_token: "refresh-token-r0-abcdefgh",
      });
      expect(api.credentials).toEqual({
        client_secret: { set: true, last_four: "6789" },
        refresh_token: { set: true, last_four: "efgh" },
        access_token: { set: false, last_four: null },
      });
      const first = await debate(owner, "OAuth first?");
      const m1 = await eventually("resource", () => as.messages.find((m) => JSON.stringify(m.body).includes(first)));
      expect(as.issued).toContain(m1.token);
      const rotated = as.currentRefreshToken();
      expect(rotated).not.toBe("refresh-token-r0-abcdefgh");
      secrets.push(rotated, ...as.issued);
      // Stored: the view shows the rotated token's last four; the column is sealed, the token not in it.
      const view = await eventually("rotated stored", async () => {
        const v = (await call<IntegrationView>(server, "GET", `/api/integrations/${api.id}`, by(owner))).body;
        return v.credentials.refresh_token?.last_four === rotated.slice(-4) ? v : undefined;
      }).catch((err) => {
        console.error(
          server
            .logs()
            .filter((l) => l.level === "ERROR" || l.level === "WARNING")
            .slice(-15)
            .map((l) => JSON.stringify(l))
            .join("\n"),
        );
        throw err;
      });
      expect(view.credentials.access_token).toEqual({ set: true, last_four: null });
      const row = (await storedCredentials()).find((r) => r.id === api.id) as { credentials: string };
      expect(JSON.parse(row.credentials)._encrypted).toBe(true);
      expect(row.credentials).not.toContain(rotated);
      expect(row.credentials).not.toContain(m1.token);
      // The access token expires: the next post refreshes with the rotated refresh token (the old one no longer works).
      as.expireAccessTokens();
      const second = await debate(owner, "OAuth second?");
      const m2 = await eventually("resource again", () =>
        as.messages.find((m) => JSON.stringify(m.body).includes(second)),
      );
      expect(m2.token).not.toBe(m1.token);
      expect(as.currentRefreshToken()).not.toBe(rotated);
      secrets.push(as.currentRefreshToken(), ...as.issued);
      // The service has the message before the server has its answer written: wait for the record.
      await eventually("both recorded as delivered", async () => {
        const states = (await deliveries(api.id)).map((x) => x.state);
        return states.length === 2 && states.every((s) => s === "DELIVERED") ? states : undefined;
      });
    },
  );

  test.skipIf(skip)("the store's health and metrics in the runbook's shapes, for the operator only", async () => {
    expect((await call(server, "GET", "/api/integrations/health", by(owner))).status).toBe(403);
    const health = (await (await server.fetch("/api/integrations/health")).json()) as {
      active_integrations: number;
      operations_summary: Record<string, number>;
    };
    expect(health).toMatchObject({
      healthy: true,
      backend_type: onPostgres ? "postgresql" : "sqlite",
      consecutive_failures: 0,
    });
    expect(health.active_integrations).toBeGreaterThanOrEqual(4);
    expect(Object.keys(health.operations_summary).sort()).toEqual([
      "cache_hit_rate",
      "get_success_rate",
      "save_success_rate",
    ]);
    const metrics = (await (await server.fetch("/api/integrations/metrics")).json()) as {
      operations: Record<
        "get" | "save" | "delete" | "list" | "refresh_token",
        { total_calls: number; success_rate: number }
      >;
    };
    expect(metrics).toMatchObject({ backend_type: onPostgres ? "postgresql" : "sqlite", is_healthy: true });
    expect(Object.keys(metrics.operations).sort()).toEqual(["delete", "get", "list", "refresh_token", "save"]);
    expect(metrics.operations.refresh_token.total_calls).toBeGreaterThanOrEqual(2);
    expect(metrics.operations.save.success_rate).toBe(100);
  });

  test.skipIf(skip)("no credential in any log line", () => {
    expect(noSecretsLogged(server, secrets)).toEqual([]);
  });
});
