/**
 * The connectors that post a debate's outcome to a chat service's incoming webhook: Slack (Block
 * Kit), Discord (an embed) and Microsoft Teams (an Adaptive Card, as Teams' Workflows webhooks
 * take it). Each is a formatter (the exact body the service accepts, within its limits) and what
 * counts as accepted; {@link postToChat} sends one through a {@link SendOutbound} (the guarded
 * sender in production) and says what the answer means (./connector-delivery.ts).
 *
 * Text from the debate (the question, agents' answers) is the users' and the models': it is
 * escaped where the format has markup that could ping people or forge links (Slack's `<!channel>`
 * and `<url|label>`, Discord's `@everyone`, switched off with `allowed_mentions`).
 *
 * @example
 * const result = await postToChat(send, CHAT_CONNECTORS.slack, webhookUrl, outcome);
 * if (result.verdict === "gone") disable(integration);
 */
import type { SendOutbound } from "../../runtime/http/outbound.ts";
import type { DebateOutcome } from "../../schemas/integrations.ts";
import { type ConnectorDelivery, clip, deliveryOf, deliveryOfError } from "./connector-delivery.ts";
import { decisionText, outcomeSummary, outcomeTitle } from "./outcome-text.ts";

export type ChatKind = "slack" | "discord" | "teams";

export interface ChatConnector {
  readonly kind: ChatKind;
  /** The JSON body the service takes for `outcome`. */
  format(outcome: DebateOutcome): unknown;
  /** Whether the status means the service took the message. */
  accepted(status: number): boolean;
}

/** Slack mrkdwn control characters, escaped as Slack documents (& < >). */
const slackEscape = (text: string) => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

const percent = (outcome: DebateOutcome) =>
  outcome.consensus === null ? "n/a" : `${Math.round(outcome.consensus.support * 100)}%`;

const slack: ChatConnector = {
  kind: "slack",
  format(outcome) {
    const mrkdwn = (text: string, max: number) => ({ type: "mrkdwn", text: clip(slackEscape(text), max) });
    const consensus = outcome.consensus;
    return {
      text: clip(slackEscape(outcomeSummary(outcome)), 3000),
      blocks: [
        { type: "header", text: { type: "plain_text", text: clip(outcomeTitle(outcome), 150) } },
        { type: "section", text: mrkdwn(`*Question:* ${outcome.question}`, 3000) },
        {
          type: "section",
          fields: [
            mrkdwn(`*Decision:*\n${consensus?.answer ?? "none"}`, 2000),
            mrkdwn(
              `*Consensus:*\n${consensus === null ? "none" : `${consensus.reached ? "reached" : "not reached"} (${consensus.method})`}`,
              2000,
            ),
            mrkdwn(`*Support:*\n${percent(outcome)}`, 2000),
            mrkdwn(`*Rounds:*\n${outcome.rounds_completed}`, 2000),
          ],
        },
        {
          type: "context",
          elements: [mrkdwn(`Debate ${outcome.debate_id} · ${outcome.agents.join(", ") || "no agents"}`, 3000)],
        },
      ],
    };
  },
  // Slack answers 200 with the body "ok"; its errors are 4xx with a word.
  accepted: (status) => status === 200,
};

const GREEN = 0x2eb67d;
const AMBER = 0xecb22e;
const RED = 0xe01e5a;

const discord: ChatConnector = {
  kind: "discord",
  format(outcome) {
    const consensus = outcome.consensus;
    // Each field within its limit and the whole embed well under Discord's 6000 characters.
    return {
      username: "Aragora",
      allowed_mentions: { parse: [] },
      embeds: [
        {
          title: clip(outcomeTitle(outcome), 256),
          description: clip(outcome.question, 2000),
          color: outcome.status !== "completed" ? RED : consensus?.reached ? GREEN : AMBER,
          fields: [
            { name: "Decision", value: clip(consensus?.answer ?? "none", 1024), inline: false },
            {
              name: "Consensus",
              value:
                consensus === null
                  ? "none"
                  : `${consensus.reached ? "reached" : "not reached"} (${clip(consensus.method, 100)})`,
              inline: true,
            },
            { name: "Support", value: percent(outcome), inline: true },
            { name: "Rounds", value: String(outcome.rounds_completed), inline: true },
            { name: "Agents", value: clip(outcome.agents.join(", ") || "none", 1024), inline: false },
          ],
          footer: { text: clip(`Debate ${outcome.debate_id}`, 2048) },
          timestamp: outcome.finished_at,
          ...(outcome.url === undefined ? {} : { url: outcome.url }),
        },
      ],
    };
  },
  // 204 without ?wait=true, 200 with it.
  accepted: (status) => status === 204 || status === 200,
};

const teams: ChatConnector = {
  kind: "teams",
  format(outcome) {
    const consensus = outcome.consensus;
    return {
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          contentUrl: null,
          content: {
            $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
            type: "AdaptiveCard",
            version: "1.4",
            body: [
              { type: "TextBlock", text: outcomeTitle(outcome), weight: "Bolder", size: "Medium", wrap: true },
              { type: "TextBlock", text: clip(outcome.question, 4000), wrap: true },
              {
                type: "FactSet",
                facts: [
                  { title: "Decision", value: clip(decisionText(outcome), 1000) },
                  {
                    title: "Consensus",
                    value: consensus === null ? "none" : consensus.reached ? "reached" : "not reached",
                  },
                  { title: "Support", value: percent(outcome) },
                  { title: "Rounds", value: String(outcome.rounds_completed) },
                  { title: "Debate", value: outcome.debate_id },
                ],
              },
            ],
          },
        },
      ],
    };
  },
  // Workflows webhooks answer 202 Accepted (the legacy connectors 200).
  accepted: (status) => status === 202 || status === 200,
};

export const CHAT_CONNECTORS: Readonly<Record<ChatKind, ChatConnector>> = { slack, discord, teams };

/**
 * Posts `outcome` to a chat webhook and says what came of it; never throws for a failed delivery.
 *
 * @example const r = await postToChat(send, CHAT_CONNECTORS.teams, url, outcome, 30_000);
 */
export async function postToChat(
  send: SendOutbound,
  connector: ChatConnector,
  webhookUrl: string,
  outcome: DebateOutcome,
  timeoutMs = 30_000,
): Promise<ConnectorDelivery> {
  try {
    const response = await send({
      url: webhookUrl,
      headers: { "content-type": "application/json", "user-agent": "Aragora-Integrations" },
      body: JSON.stringify(connector.format(outcome)),
      timeoutMs,
    });
    return deliveryOf(response, connector.accepted);
  } catch (err) {
    return deliveryOfError(err);
  }
}
