/**
 * The connectors over real HTTP, through the guarded sender, against fakes that check the real
 * formats: what each service accepts, and what each fault comes to (retry with the wait asked
 * for, gone, rejected).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CHAT_CONNECTORS, type ChatKind, postToChat } from "../../actors/integrations/chat-connectors.ts";
import {
  type OAuth2Secrets,
  type OAuth2Settings,
  postToOAuth2Api,
} from "../../actors/integrations/oauth2-connector.ts";
import { guardedSender } from "../../runtime/http/guarded-sender.ts";
import type { DebateOutcome } from "../../schemas/integrations.ts";
import { type FakeChat, startFakeDiscord, startFakeSlack, startFakeTeams } from "../support/fake-chat.ts";
import { type FakeTokenServer, startFakeTokenServer } from "../support/fake-oauth.ts";
import { type FakeReceiver, startFakeReceiver } from "../support/fake-receiver.ts";

const send = guardedSender({ policy: { allowLoopback: true, requireHttps: false } });

const outcome: DebateOutcome = {
  debate_id: "d-7f3a",
  question: "Should we adopt a four-day work week? <!channel> café ☕",
  status: "completed",
  consensus: {
    reached: true,
    method: "majority",
    answer: "Yes, with a pilot <https://evil.test|click> @everyone",
    winner: "demo:alice",
    support: 0.667,
  },
  rounds_completed: 2,
  agents: ["demo:alice", "demo:bob", "demo:carol"],
  finished_at: "2025-06-01T12:00:00.000Z",
};

/** An outcome whose every text is far over every service's limits. */
const huge: DebateOutcome = {
  ...outcome,
  question: "Q".repeat(20_000),
  consensus: { reached: false, method: "m".repeat(500), answer: "A".repeat(20_000), winner: null, support: 0.4 },
  agents: Array.from({ length: 300 }, (_, i) => `provider:model-${i}`),
};

describe.each([
  ["slack", startFakeSlack],
  ["discord", startFakeDiscord],
  ["teams", startFakeTeams],
] as const)("%s", (kind: ChatKind, start: () => Promise<FakeChat<unknown>>) => {
  let fake: FakeChat<unknown>;
  let elsewhere: FakeReceiver;
  beforeAll(async () => {
    fake = await start();
    elsewhere = await startFakeReceiver();
  });
  afterAll(async () => {
    await fake.stop();
    await elsewhere.stop();
  });
  const connector = CHAT_CONNECTORS[kind];

  test("the service accepts the outcome, and one over every limit", async () => {
    const first = await postToChat(send, connector, fake.webhookUrl, outcome);
    expect(first.verdict).toBe("delivered");
    const second = await postToChat(send, connector, fake.webhookUrl, huge);
    expect({ verdict: second.verdict, detail: second.detail }).toEqual({ verdict: "delivered", detail: second.detail });
    expect(fake.messages).toHaveLength(2);
  });

  test("429 is retried after the wait asked for; 5xx, redirects, resets and timeouts are retried", async () => {
    fake.failNext(fake.faults.rateLimited(7));
    const limited = await postToChat(send, connector, fake.webhookUrl, outcome);
    expect(limited).toMatchObject({ verdict: "retry", status: 429, retryAfterMs: 7000 });
    fake.failNext(fake.faults.serverError());
    expect((await postToChat(send, connector, fake.webhookUrl, outcome)).verdict).toBe("retry");
    fake.failNext(fake.faults.redirect(`${elsewhere.url}/catch`));
    const moved = await postToChat(send, connector, fake.webhookUrl, outcome);
    expect(moved).toMatchObject({ verdict: "retry", status: 302 });
    expect(elsewhere.received).toHaveLength(0);
    fake.failNext(fake.faults.reset());
    expect((await postToChat(send, connector, fake.webhookUrl, outcome)).verdict).toBe("retry");
    fake.failNext(fake.faults.slow(10_000));
    const slow = await postToChat(send, connector, fake.webhookUrl, outcome, 300);
    expect(slow.verdict).toBe("retry");
    expect(slow.detail).toStartWith("timeout");
  });

  test("410 Gone says the destination is gone; a bad URL path is rejected", async () => {
    fake.failNext(fake.faults.gone());
    expect((await postToChat(send, connector, fake.webhookUrl, outcome)).verdict).toBe("gone");
    expect((await postToChat(send, connector, `${fake.url}/not-a-hook`, outcome)).verdict).toBe("rejected");
  });

  test("a URL the guard refuses is rejected without a request", async () => {
    const strict = guardedSender({ policy: { allowLoopback: false, requireHttps: false } });
    const before = fake.received.length;
    const refused = await postToChat(strict, connector, fake.webhookUrl, outcome);
    expect(refused.verdict).toBe("rejected");
    expect(refused.detail).toContain("refused");
    expect(fake.received.length).toBe(before);
  });
});

describe("what the chat bodies say", () => {
  test("Slack: markup from the debate is escaped; the blocks carry the decision", () => {
    const body = CHAT_CONNECTORS.slack.format(outcome) as { text: string; blocks: Array<Record<string, unknown>> };
    expect(body.text).not.toContain("<!channel>");
    expect(body.text).toContain("&lt;!channel&gt;");
    expect(JSON.stringify(body.blocks)).not.toContain("<https://evil.test|click>");
    expect(JSON.stringify(body.blocks)).toContain("67%");
  });

  test("Discord: mentions are switched off", () => {
    const body = CHAT_CONNECTORS.discord.format(outcome) as { allowed_mentions: unknown };
    expect(body.allowed_mentions).toEqual({ parse: [] });
  });
});

describe("generic OAuth2 connector", () => {
  let as: FakeTokenServer;
  beforeAll(async () => {
    as = await startFakeTokenServer({
      clientId: "aragora",
      clientSecret: "client-secret-1",
      refreshToken: "refresh-0",
    });
  });
  afterAll(() => as.stop());
  const settings = (): OAuth2Settings => ({
    tokenUrl: as.tokenUrl,
    resourceUrl: as.resourceUrl,
    clientId: "aragora",
    authMethod: "client_secret_basic",
  });
  const tokenCalls = () => as.received.filter((r) => r.path === "/oauth/token").length;

  test("refreshes a missing token, posts with it, keeps the rotated refresh token", async () => {
    const start: OAuth2Secrets = { clientSecret: "client-secret-1", refreshToken: "refresh-0" };
    const { delivery, secrets } = await postToOAuth2Api(send, settings(), start, outcome);
    expect(delivery).toMatchObject({ verdict: "delivered", status: 201 });
    expect(secrets.refreshToken).toBe(as.currentRefreshToken());
    expect(secrets.refreshToken).not.toBe("refresh-0");
    expect(secrets.accessToken).toBe(as.issued[0] as string);
    expect(secrets.accessExpiresAt).toBeGreaterThan(Date.now());
    expect(as.messages.at(-1)?.body).toEqual({ event: "debate_end", debate: outcome });
    const tokenRequest = as.received.find((r) => r.path === "/oauth/token");
    expect(tokenRequest?.headers.authorization).toStartWith("Basic ");
    expect(new URLSearchParams(tokenRequest?.body).get("grant_type")).toBe("refresh_token");

    // A valid token is used as it is: no second refresh.
    const calls = tokenCalls();
    const again = await postToOAuth2Api(send, settings(), secrets, outcome);
    expect(again.delivery.verdict).toBe("delivered");
    expect(again.secrets).toBe(secrets);
    expect(tokenCalls()).toBe(calls);

    // The API refuses the token (expired early): refreshed once, posted again.
    as.expireAccessTokens();
    const renewed = await postToOAuth2Api(send, settings(), secrets, outcome);
    expect(renewed.delivery.verdict).toBe("delivered");
    expect(renewed.secrets.accessToken).not.toBe(secrets.accessToken);
    expect(tokenCalls()).toBe(calls + 1);
  });

  test("a token near its expiry is refreshed before the post", async () => {
    const current = as.currentRefreshToken();
    const calls = tokenCalls();
    const nearlyExpired: OAuth2Secrets = {
      clientSecret: "client-secret-1",
      refreshToken: current,
      accessToken: as.issued.at(-1) as string,
      accessExpiresAt: Date.now() + 10_000,
    };
    const { delivery, secrets } = await postToOAuth2Api(
      send,
      { ...settings(), authMethod: "client_secret_post" },
      nearlyExpired,
      outcome,
    );
    expect(delivery.verdict).toBe("delivered");
    expect(tokenCalls()).toBe(calls + 1);
    expect(secrets.refreshToken).toBe(as.currentRefreshToken());
    const post = as.received.filter((r) => r.path === "/oauth/token").at(-1);
    expect(post?.headers.authorization).toBeUndefined();
    expect(new URLSearchParams(post?.body).get("client_secret")).toBe("client-secret-1");
  });

  test("fenced while the token was refreshed (the node's lease lapsed): nothing posted, the rotated token kept", async () => {
    const current = as.currentRefreshToken();
    const calls = tokenCalls();
    const posted = as.messages.length;
    const stale: OAuth2Secrets = { clientSecret: "client-secret-1", refreshToken: current };
    const result = await postToOAuth2Api(send, settings(), stale, outcome, { mayPost: () => false });
    expect(result.fenced).toBe(true);
    expect(result.delivery.verdict).toBe("retry");
    expect(tokenCalls()).toBe(calls + 1);
    expect(as.messages.length).toBe(posted);
    // The refresh token rotated at the server: the new one comes back, to be stored.
    expect(result.secrets.refreshToken).toBe(as.currentRefreshToken());
    expect(result.secrets.refreshToken).not.toBe(current);
    // Held again: posted with the refreshed token, no second refresh.
    const again = await postToOAuth2Api(send, settings(), result.secrets, outcome, { mayPost: () => true });
    expect(again.fenced).toBeUndefined();
    expect(again.delivery.verdict).toBe("delivered");
    expect(as.messages.length).toBe(posted + 1);
    expect(tokenCalls()).toBe(calls + 1);
  });

  test("token endpoint faults: 503 and 429 are retried, a revoked grant is rejected", async () => {
    const secrets: OAuth2Secrets = { clientSecret: "client-secret-1", refreshToken: as.currentRefreshToken() };
    as.failNext(as.faults.serverError());
    expect((await postToOAuth2Api(send, settings(), secrets, outcome)).delivery).toMatchObject({
      verdict: "retry",
      status: 503,
    });
    as.failNext(as.faults.rateLimited(3));
    expect((await postToOAuth2Api(send, settings(), secrets, outcome)).delivery).toMatchObject({
      verdict: "retry",
      status: 429,
      retryAfterMs: 3000,
    });
    as.failNext(as.faults.reset());
    expect((await postToOAuth2Api(send, settings(), secrets, outcome)).delivery.verdict).toBe("retry");
    const wrongSecret = await postToOAuth2Api(send, settings(), { ...secrets, clientSecret: "wrong" }, outcome);
    expect(wrongSecret.delivery).toMatchObject({ verdict: "rejected", status: 401 });
    as.revokeRefreshToken();
    const revoked = await postToOAuth2Api(send, settings(), secrets, outcome);
    expect(revoked.delivery).toMatchObject({ verdict: "rejected", status: 400 });
    expect(revoked.delivery.detail).toContain("invalid_grant");
    expect(revoked.secrets).toBe(secrets);
  });
});
