/**
 * The fake services check what the real ones check, so a connector that passes against them
 * sends what the real ones accept: each fake refuses the malformed messages the real service
 * refuses, in the service's own words, and has every fault.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeChat, startFakeDiscord, startFakeSlack, startFakeTeams } from "../support/fake-chat.ts";
import { type FakeTokenServer, startFakeTokenServer } from "../support/fake-oauth.ts";

const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    redirect: "manual",
  });

describe("fake Slack", () => {
  let slack: FakeChat<unknown>;
  beforeAll(async () => {
    slack = await startFakeSlack();
  });
  afterAll(() => slack.stop());

  test("accepts text or valid blocks; refuses what Slack refuses", async () => {
    const ok = await postJson(slack.webhookUrl, { text: "hi" });
    expect([ok.status, await ok.text()]).toEqual([200, "ok"]);
    const blocks = await postJson(slack.webhookUrl, {
      text: "fallback",
      blocks: [{ type: "header", text: { type: "plain_text", text: "Title" } }, { type: "divider" }],
    });
    expect(blocks.status).toBe(200);
    for (const [body, answer] of [
      [{}, "no_text"],
      [{ blocks: [] }, "no_text"],
      [{ text: "x", blocks: [{ type: "header", text: { type: "mrkdwn", text: "no" } }] }, "invalid_blocks"],
      [
        { text: "x", blocks: [{ type: "section", text: { type: "mrkdwn", text: "a".repeat(3001) } }] },
        "invalid_blocks",
      ],
      [{ text: "x", blocks: [{ type: "bogus" }] }, "invalid_blocks"],
      ["not json", "invalid_payload"],
    ] as const) {
      const res = await postJson(slack.webhookUrl, body);
      expect({ body, status: res.status, answer: await res.text() }).toEqual({ body, status: 400, answer });
    }
    expect((await postJson(`${slack.url}/services/wrong`, { text: "x" })).status).toBe(404);
    expect(slack.messages).toHaveLength(2);
  });

  test("faults: 429 with Retry-After, 410, 5xx, redirect, reset", async () => {
    slack.failNext(
      slack.faults.rateLimited(7),
      slack.faults.gone(),
      slack.faults.serverError(),
      slack.faults.redirect("https://elsewhere.test/"),
      slack.faults.reset(),
    );
    const limited = await postJson(slack.webhookUrl, { text: "x" });
    expect([limited.status, limited.headers.get("retry-after")]).toEqual([429, "7"]);
    const gone = await postJson(slack.webhookUrl, { text: "x" });
    expect([gone.status, await gone.text()]).toEqual([410, "channel_is_archived"]);
    expect((await postJson(slack.webhookUrl, { text: "x" })).status).toBe(500);
    const moved = await postJson(slack.webhookUrl, { text: "x" });
    expect([moved.status, moved.headers.get("location")]).toEqual([302, "https://elsewhere.test/"]);
    await expect(postJson(slack.webhookUrl, { text: "x" })).rejects.toThrow();
  });
});

describe("fake Discord", () => {
  let discord: FakeChat<unknown>;
  beforeAll(async () => {
    discord = await startFakeDiscord();
  });
  afterAll(() => discord.stop());

  test("204 for a valid message, 200 with ?wait=true; Discord's errors otherwise", async () => {
    expect((await postJson(discord.webhookUrl, { content: "hi" })).status).toBe(204);
    const waited = await postJson(`${discord.webhookUrl}?wait=true`, {
      embeds: [{ title: "T", description: "D", color: 0x2eb67d, fields: [{ name: "a", value: "b", inline: true }] }],
    });
    expect(waited.status).toBe(200);
    expect(((await waited.json()) as { embeds: unknown[] }).embeds).toHaveLength(1);
    const empty = await postJson(discord.webhookUrl, { content: "" });
    expect([empty.status, ((await empty.json()) as { code: number }).code]).toEqual([400, 50006]);
    for (const body of [
      { content: "a".repeat(2001) },
      { embeds: [{ title: "a".repeat(257) }] },
      { embeds: [{ fields: [{ name: "", value: "x" }] }] },
      { embeds: [{ color: -1 }] },
      { embeds: Array.from({ length: 11 }, () => ({ title: "t" })) },
      { embeds: [{ description: "a".repeat(4000) }, { description: "a".repeat(2001) }] },
    ]) {
      const res = await postJson(discord.webhookUrl, body);
      expect({ status: res.status, code: ((await res.json()) as { code: number }).code }).toEqual({
        status: 400,
        code: 50035,
      });
    }
    const unknown = await postJson(`${discord.url}/api/webhooks/1/nope`, { content: "x" });
    expect([unknown.status, ((await unknown.json()) as { code: number }).code]).toEqual([404, 10015]);
  });

  test("429 carries Retry-After and retry_after", async () => {
    discord.failNext(discord.faults.rateLimited(1.5));
    const res = await postJson(discord.webhookUrl, { content: "x" });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(((await res.json()) as { retry_after: number }).retry_after).toBe(1.5);
  });
});

describe("fake Teams (Workflows)", () => {
  let teams: FakeChat<unknown>;
  beforeAll(async () => {
    teams = await startFakeTeams();
  });
  afterAll(() => teams.stop());

  const card = (body: unknown[], version = "1.4") => ({
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: { $schema: "http://adaptivecards.io/schemas/adaptive-card.json", type: "AdaptiveCard", version, body },
      },
    ],
  });

  test("202 for an Adaptive Card message; 400 for anything else", async () => {
    const ok = await postJson(
      teams.webhookUrl,
      card([
        { type: "TextBlock", text: "hi" },
        { type: "FactSet", facts: [{ title: "a", value: "b" }] },
      ]),
    );
    expect(ok.status).toBe(202);
    for (const body of [
      { text: "a legacy MessageCard-style body" },
      { type: "message", attachments: [] },
      card([]),
      card([{ type: "TextBlock" }]),
      card([{ type: "FactSet", facts: [{ title: "a" }] }]),
      card([{ type: "TextBlock", text: "x" }], "2.0"),
    ]) {
      expect((await postJson(teams.webhookUrl, body)).status).toBe(400);
    }
    expect((await postJson(`${teams.url}/workflows/other`, card([{ type: "TextBlock", text: "x" }]))).status).toBe(404);
    expect(teams.messages).toHaveLength(1);
  });
});

describe("fake token endpoint (RFC 6749 refresh_token grant)", () => {
  let as: FakeTokenServer;
  beforeAll(async () => {
    as = await startFakeTokenServer({ clientId: "client 1", clientSecret: "s3cret:x", refreshToken: "r0" });
  });
  afterAll(() => as.stop());

  const form = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(as.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  const basic = `Basic ${btoa(`${encodeURIComponent("client 1").replaceAll("%20", "+")}:${encodeURIComponent("s3cret:x")}`)}`;

  test("a refresh answers a bearer token, rotates the refresh token, and the resource takes it", async () => {
    const res = await form({ grant_type: "refresh_token", refresh_token: "r0" }, { authorization: basic });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as { access_token: string; token_type: string; refresh_token: string };
    expect(body.token_type).toBe("Bearer");
    expect(body.refresh_token).toBe(as.currentRefreshToken());
    const again = await form({ grant_type: "refresh_token", refresh_token: "r0" }, { authorization: basic });
    expect([again.status, ((await again.json()) as { error: string }).error]).toEqual([400, "invalid_grant"]);
    const post = (token: string) =>
      fetch(as.resourceUrl, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: '{"a": 1}' });
    expect((await post(body.access_token)).status).toBe(201);
    as.expireAccessTokens();
    const expired = await post(body.access_token);
    expect(expired.status).toBe(401);
    expect(expired.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  test("client authentication and grant errors", async () => {
    const current = as.currentRefreshToken();
    const wrong = await form(
      { grant_type: "refresh_token", refresh_token: current },
      { authorization: "Basic Y2xpZW50Ondyb25n" },
    );
    expect([wrong.status, ((await wrong.json()) as { error: string }).error]).toEqual([401, "invalid_client"]);
    const post = await form({
      grant_type: "refresh_token",
      refresh_token: current,
      client_id: "client 1",
      client_secret: "s3cret:x",
    });
    expect(post.status).toBe(200);
    const both = await form(
      { grant_type: "refresh_token", refresh_token: as.currentRefreshToken(), client_secret: "s3cret:x" },
      { authorization: basic },
    );
    expect(((await both.json()) as { error: string }).error).toBe("invalid_request");
    const grant = await form({ grant_type: "password", username: "u" }, { authorization: basic });
    expect(((await grant.json()) as { error: string }).error).toBe("unsupported_grant_type");
  });
});
