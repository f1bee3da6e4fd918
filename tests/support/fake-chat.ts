/**
 * Fake Slack, Discord and Microsoft Teams incoming webhooks: real HTTP servers that accept what
 * the real services accept and refuse, with the real services' answers, what they refuse (an
 * empty message, a Block Kit block without its text, a Discord embed over its limits, a Teams
 * message that is not an Adaptive Card). Each has the faults of ./fake-receiver.ts, and builders
 * for the ones the service answers in its own words (`rateLimited`, `gone`, `serverError`).
 *
 * - Slack (api.slack.com/messaging/webhooks): POST JSON to /services/T…/B…/…; `text` or `blocks`
 *   required; 200 `ok`; errors as plain text (`no_text`, `invalid_blocks`, `invalid_payload`,
 *   `no_service`, 410 `channel_is_archived`); 429 with Retry-After.
 * - Discord (discord.com/developers/docs/resources/webhook#execute-webhook): POST JSON to
 *   /api/webhooks/{id}/{token}; `content` (at most 2000 characters) or `embeds` (at most 10, limits
 *   per field, 6000 characters in all); 204 No Content (200 with the message under `?wait=true`);
 *   errors as JSON `{code, message}` (50006 empty message, 50035 invalid form body, 10015 unknown
 *   webhook); 429 with Retry-After and `retry_after` in the body.
 * - Teams (Workflows "post to a channel when a webhook request is received", the successor of the
 *   retired Office 365 connectors): POST JSON `{"type":"message","attachments":[{"contentType":
 *   "application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","version":…,"body":
 *   […]}}]}` to /workflows/…/triggers/manual/paths/invoke?api-version=1&sig=…; 202 Accepted.
 *
 * @example
 * const slack = await startFakeSlack();
 * await fetch(slack.webhookUrl, { method: "POST", headers: { "content-type": "application/json" }, body: '{"text":"hi"}' });
 * slack.messages; // [{ text: "hi" }]
 */
import { type FakeReceiver, type Fault, type ReceivedRequest, type Reply, startFakeReceiver } from "./fake-receiver.ts";

export interface FakeChat<Message> extends FakeReceiver {
  /** The URL the service would give an integration's owner. */
  readonly webhookUrl: string;
  /** The messages the service accepted, parsed. */
  readonly messages: Message[];
  readonly faults: {
    serverError(): Fault;
    rateLimited(retryAfterSeconds: number): Fault;
    gone(): Fault;
    slow(delayMs: number): Fault;
    redirect(location: string): Fault;
    reset(): Fault;
  };
}

type Json = Record<string, unknown>;

const text = (status: number, body: string, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  body,
});
const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/** The request's JSON object body, or why not (wrong content type, not JSON, not an object). */
function jsonBody(req: ReceivedRequest): Json | string {
  if (req.method !== "POST") return `method ${req.method}`;
  if (!(req.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")) return "content-type";
  try {
    const parsed: unknown = JSON.parse(req.body);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : "not an object";
  } catch {
    return "not JSON";
  }
}

const isString = (v: unknown, max: number, min = 1): v is string =>
  typeof v === "string" && v.length >= min && v.length <= max;

const common = (serverError: Reply, rateLimited: (s: number) => Reply, gone: Reply) => ({
  serverError: (): Fault => ({ kind: "respond", reply: serverError }),
  rateLimited: (s: number): Fault => ({ kind: "respond", reply: rateLimited(s) }),
  gone: (): Fault => ({ kind: "respond", reply: gone }),
  slow: (delayMs: number): Fault => ({ kind: "slow", delayMs }),
  redirect: (location: string): Fault => ({ kind: "redirect", location }),
  reset: (): Fault => ({ kind: "reset" }),
});

// --- Slack -----------------------------------------------------------------------------------

const SLACK_PATH = "/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx";

/** Whether a Block Kit text object is valid: `{type: "mrkdwn"|"plain_text", text}` within `max`. */
function slackText(v: unknown, max: number, plainOnly = false): boolean {
  if (typeof v !== "object" || v === null) return false;
  const t = v as Json;
  return (t.type === "plain_text" || (!plainOnly && t.type === "mrkdwn")) && isString(t.text, max);
}

/** Why a Block Kit block is invalid, or undefined (the block types a message posts). */
function slackBlockProblem(block: unknown): string | undefined {
  if (typeof block !== "object" || block === null) return "a block is not an object";
  const b = block as Json;
  switch (b.type) {
    case "header":
      return slackText(b.text, 150, true) ? undefined : "header.text must be plain_text of 1-150 characters";
    case "section": {
      const fields = b.fields;
      const fieldsOk =
        fields === undefined ||
        (Array.isArray(fields) && fields.length <= 10 && fields.every((f) => slackText(f, 2000)));
      if (!fieldsOk) return "section.fields must be at most 10 text objects of at most 2000 characters";
      if (b.text === undefined && fields === undefined) return "section needs text or fields";
      return b.text === undefined || slackText(b.text, 3000)
        ? undefined
        : "section.text must be a text object of 1-3000 characters";
    }
    case "context": {
      const els = b.elements;
      return Array.isArray(els) && els.length >= 1 && els.length <= 10 && els.every((e) => slackText(e, 3000))
        ? undefined
        : "context.elements must be 1-10 text objects";
    }
    case "divider":
      return undefined;
    default:
      return `unsupported block type ${JSON.stringify(b.type)}`;
  }
}

export interface SlackMessage {
  text?: string;
  blocks?: unknown[];
}

/**
 * A fake Slack incoming webhook; see the module comment.
 *
 * @example const slack = await startFakeSlack(); slack.failNext(slack.faults.rateLimited(2));
 */
export async function startFakeSlack(): Promise<FakeChat<SlackMessage>> {
  const messages: SlackMessage[] = [];
  const receiver = await startFakeReceiver({
    answer: (req) => {
      if (!req.path.startsWith(SLACK_PATH)) return text(404, "no_service");
      const body = jsonBody(req);
      if (typeof body === "string") return text(400, "invalid_payload");
      const { text: t, blocks } = body;
      if (t !== undefined && typeof t !== "string") return text(400, "invalid_payload");
      if (blocks !== undefined) {
        if (!Array.isArray(blocks) || blocks.length > 50) return text(400, "invalid_blocks");
        if (blocks.some((b) => slackBlockProblem(b) !== undefined)) return text(400, "invalid_blocks");
      }
      if ((t === undefined || t === "") && (blocks === undefined || blocks.length === 0)) return text(400, "no_text");
      messages.push(body as SlackMessage);
      return text(200, "ok");
    },
  });
  return {
    ...receiver,
    webhookUrl: `${receiver.url}${SLACK_PATH}`,
    messages,
    faults: common(
      text(500, "rollup_error"),
      (s) => text(429, "rate_limited", { "retry-after": String(s) }),
      text(410, "channel_is_archived"),
    ),
  };
}

// --- Discord ---------------------------------------------------------------------------------

const DISCORD_PATH = "/api/webhooks/1234567890123456789/token-abcdefghijklmnopqrstuvwxyz";

/** Why a Discord embed is invalid, and its characters counted toward the 6000 limit. */
function discordEmbed(embed: unknown): { problem?: string; chars: number } {
  if (typeof embed !== "object" || embed === null) return { problem: "embed is not an object", chars: 0 };
  const e = embed as Json;
  let chars = 0;
  const field = (v: unknown, max: number, name: string): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.length > max) return `${name} must be a string of at most ${max} characters`;
    chars += v.length;
    return undefined;
  };
  const problems = [
    field(e.title, 256, "title"),
    field(e.description, 4096, "description"),
    e.color !== undefined && !(Number.isInteger(e.color) && (e.color as number) >= 0 && (e.color as number) <= 0xffffff)
      ? "color must be an integer 0-16777215"
      : undefined,
    e.timestamp !== undefined && (typeof e.timestamp !== "string" || Number.isNaN(Date.parse(e.timestamp)))
      ? "timestamp must be ISO8601"
      : undefined,
    e.footer !== undefined ? field((e.footer as Json)?.text, 2048, "footer.text") : undefined,
  ];
  if (e.fields !== undefined) {
    if (!Array.isArray(e.fields) || e.fields.length > 25) problems.push("fields must be at most 25");
    else
      for (const f of e.fields as Json[]) {
        if (!isString(f?.name, 256) || !isString(f?.value, 1024))
          problems.push("field name 1-256, value 1-1024 characters");
        else chars += (f.name as string).length + (f.value as string).length;
        if (f?.inline !== undefined && typeof f.inline !== "boolean") problems.push("field inline must be a boolean");
      }
  }
  return { problem: problems.find((p) => p !== undefined), chars };
}

export interface DiscordMessage {
  content?: string;
  username?: string;
  embeds?: unknown[];
  allowed_mentions?: unknown;
}

/**
 * A fake Discord webhook; see the module comment.
 *
 * @example const discord = await startFakeDiscord(); discord.failNext(discord.faults.serverError());
 */
export async function startFakeDiscord(): Promise<FakeChat<DiscordMessage>> {
  const messages: DiscordMessage[] = [];
  const invalid = (errors: string) =>
    json(400, {
      code: 50035,
      message: "Invalid Form Body",
      errors: { _errors: [{ code: "BASE_TYPE_INVALID", message: errors }] },
    });
  const receiver = await startFakeReceiver({
    answer: (req) => {
      if (!req.path.startsWith(DISCORD_PATH)) return json(404, { message: "Unknown Webhook", code: 10015 });
      const body = jsonBody(req);
      if (typeof body === "string") return json(400, { message: "Cannot send an empty message", code: 50006 });
      const { content, embeds, username } = body;
      if (content !== undefined && (typeof content !== "string" || content.length > 2000)) {
        return invalid("content must be at most 2000 characters");
      }
      if (username !== undefined && !isString(username, 80)) return invalid("username must be 1-80 characters");
      let chars = 0;
      if (embeds !== undefined) {
        if (!Array.isArray(embeds) || embeds.length > 10) return invalid("embeds must be at most 10");
        for (const embed of embeds) {
          const checked = discordEmbed(embed);
          if (checked.problem !== undefined) return invalid(checked.problem);
          chars += checked.chars;
        }
        if (chars > 6000) return invalid("embeds total more than 6000 characters");
      }
      if ((content === undefined || content === "") && (!Array.isArray(embeds) || embeds.length === 0)) {
        return json(400, { message: "Cannot send an empty message", code: 50006 });
      }
      messages.push(body as DiscordMessage);
      if (new URL(req.path, "http://x").searchParams.get("wait") === "true") {
        return json(200, { id: String(1e18 + messages.length), type: 0, content: content ?? "", embeds: embeds ?? [] });
      }
      return { status: 204 };
    },
  });
  return {
    ...receiver,
    webhookUrl: `${receiver.url}${DISCORD_PATH}`,
    messages,
    faults: common(
      json(502, { message: "502 Bad Gateway", code: 0 }),
      (s) =>
        json(
          429,
          { message: "You are being rate limited.", retry_after: s, global: false },
          { "retry-after": String(Math.ceil(s)), "x-ratelimit-remaining": "0", "x-ratelimit-scope": "shared" },
        ),
      json(410, { message: "Gone", code: 0 }),
    ),
  };
}

// --- Microsoft Teams (Workflows) -------------------------------------------------------------

const TEAMS_PATH =
  "/workflows/0f3e2d1c4b5a69788796a5b4c3d2e1f0/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=fakeSignature0123456789";

/** Why an Adaptive Card element is invalid (the elements a message posts), or undefined. */
function cardElementProblem(el: unknown): string | undefined {
  if (typeof el !== "object" || el === null) return "element is not an object";
  const e = el as Json;
  switch (e.type) {
    case "TextBlock":
      return typeof e.text === "string" && e.text.length > 0 ? undefined : "TextBlock.text is required";
    case "FactSet":
      return Array.isArray(e.facts) &&
        e.facts.every((f: Json) => typeof f?.title === "string" && typeof f?.value === "string")
        ? undefined
        : "FactSet.facts must be {title, value} strings";
    case "Container":
      return Array.isArray(e.items)
        ? e.items.map(cardElementProblem).find((p) => p !== undefined)
        : "Container.items is required";
    default:
      return `unsupported element type ${JSON.stringify(e.type)}`;
  }
}

export interface TeamsMessage {
  type: "message";
  attachments: Array<{ contentType: string; content: { type: string; version: string; body: unknown[] } }>;
}

/**
 * A fake Teams Workflows webhook; see the module comment.
 *
 * @example const teams = await startFakeTeams(); teams.failNext(teams.faults.gone());
 */
export async function startFakeTeams(): Promise<FakeChat<TeamsMessage>> {
  const messages: TeamsMessage[] = [];
  const bad = (message: string) => json(400, { error: { code: "InvalidRequestContent", message } });
  const receiver = await startFakeReceiver({
    answer: (req) => {
      if (req.path !== TEAMS_PATH) {
        return json(404, { error: { code: "WorkflowNotFound", message: "The workflow could not be found." } });
      }
      const body = jsonBody(req);
      if (typeof body === "string") return bad(`The request content is not valid JSON (${body}).`);
      if (body.type !== "message") return bad("type must be 'message'");
      const attachments = body.attachments;
      if (!Array.isArray(attachments) || attachments.length === 0) return bad("attachments must be a non-empty array");
      for (const a of attachments as Json[]) {
        if (a?.contentType !== "application/vnd.microsoft.card.adaptive")
          return bad("contentType must be an Adaptive Card");
        const card = a.content as Json | undefined;
        if (card?.type !== "AdaptiveCard") return bad("content.type must be AdaptiveCard");
        if (typeof card.version !== "string" || !/^1\.\d$/.test(card.version))
          return bad("content.version must be 1.x");
        if (!Array.isArray(card.body) || card.body.length === 0) return bad("content.body must be a non-empty array");
        const problem = card.body.map(cardElementProblem).find((p) => p !== undefined);
        if (problem !== undefined) return bad(problem);
      }
      messages.push(body as unknown as TeamsMessage);
      return { status: 202 };
    },
  });
  return {
    ...receiver,
    webhookUrl: `${receiver.url}${TEAMS_PATH}`,
    messages,
    faults: common(
      json(503, { error: { code: "ServiceUnavailable", message: "The service is unavailable." } }),
      (s) =>
        json(
          429,
          { error: { code: "WorkflowTriggerIsThrottled", message: "Rate limit is exceeded." } },
          { "retry-after": String(s) },
        ),
      json(410, { error: { code: "WorkflowDeleted", message: "The workflow was deleted." } }),
    ),
  };
}
