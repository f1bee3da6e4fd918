/** Bodies and queries of /api/billing: usage reports and the monthly cost cap. */
import { type } from "arktype";
import { ErrorBody } from "./errors.ts";
import { lazy } from "./lazy.ts";

/** A calendar date, `YYYY-MM-DD`, that exists. */
const isoDate = lazy(() =>
  type(/^\d{4}-\d{2}-\d{2}$/)
    .narrow((s, ctx) => {
      const d = new Date(`${s}T00:00:00Z`);
      return (!Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s) || ctx.mustBe("a date that exists");
    })
    .describe("a date YYYY-MM-DD (UTC)"),
);

export const UsageQuery = lazy(() =>
  type({
    "from?": isoDate.describe("first day counted, YYYY-MM-DD (UTC); default the first of this month"),
    "to?": isoDate.describe("last day counted, YYYY-MM-DD (UTC), at most 366 days after from; default today"),
    "+": "reject",
  }),
);

const totals = {
  debates: "number.integer >= 0",
  input_tokens: "number.integer >= 0",
  output_tokens: "number.integer >= 0",
  cache_read_tokens: "number.integer >= 0",
  cache_write_tokens: "number.integer >= 0",
  reasoning_tokens: "number.integer >= 0",
  tokens: lazy(() => type("number.integer >= 0").describe("input plus output tokens")),
  cost_usd: "number >= 0",
  estimated: lazy(() => type("boolean").describe("some count or cost is an estimate (a provider sent no usage)")),
} as const;

export const CapState = lazy(() =>
  type({
    organisation_id: "string",
    monthly_cost_cap_usd: type("number > 0 | null").describe("the cap that applies (null: none)"),
    source: type("'organisation' | 'default' | null").describe(
      "organisation: its own (PUT /api/billing/cap); default: ARAGORA_MONTHLY_COST_CAP_USD",
    ),
    month: type("string").describe("YYYY-MM (UTC)"),
    month_cost_usd: type("number >= 0").describe("what the organisation's debates created this month cost so far"),
  }).describe("an organisation's monthly cost cap and the month's cost"),
);

export const UsageResponse = lazy(() =>
  type({
    organisation_id: "string",
    from: "string",
    to: "string",
    totals: type({
      ...totals,
      running: type("number.integer >= 0").describe("debates still running (counted so far)"),
    }),
    by_day: type({ date: "string", ...totals })
      .array()
      .describe("per UTC day of the debates' creation, oldest first"),
    by_user: type({ user_id: type("string").describe("the creator; operator for the operator's token"), ...totals })
      .array()
      .describe("per creator, costliest first"),
    by_agent: type({ agent: "string", turns: "number.integer >= 0", ...totals })
      .array()
      .describe("per agent, costliest first"),
    cap: CapState,
  }).describe(
    "tokens and cost of the organisation's debates created from `from` to `to`: finished ones as they recorded it, the others from their event logs",
  ),
);

export const SetCapBody = lazy(() =>
  type({
    monthly_cost_cap_usd: type("0 < number <= 1000000000 | null").describe(
      "the organisation's monthly cap in USD; null: back to the default (ARAGORA_MONTHLY_COST_CAP_USD), if any",
    ),
    "+": "reject",
  }),
);

export const CostCapErrorBody = lazy(() =>
  ErrorBody.and({
    monthly_cost_cap_usd: "number",
    month_cost_usd: "number",
    month: "string",
    cap_source: "'organisation' | 'default' | null",
  }).describe("402 cost_cap_reached: the organisation's debates of the month cost its cap or more"),
);
