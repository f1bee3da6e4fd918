/**
 * The live debate pages in a real browser against a real server with the demo agents: a member
 * starts a debate from the form (and sees the server's validation at the fields), watches every
 * agent's tokens arrive while the debate runs, loses the WebSocket mid-debate and sees the page
 * resume from the last seq it had (the text on screen equals the event log: no gap, no duplicate),
 * and opens a finished debate, read from its log. Each page is checked with axe and photographed
 * at desktop and phone width.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { call, claimOwner, type Session, startAccessServer, userWithRole } from "../access/support.ts";
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.ts";
import type { TestServer } from "../support/server.ts";
import {
  expectAccessible,
  openBrowser,
  overflowsSideways,
  PHONE,
  screenshots,
  type TestBrowser,
} from "./support/browser.ts";
import { headingIs } from "./support/heading.ts";
import { type LoggedEvent, SOCKET_SPY, turnTextsOf } from "./support/live-debates.ts";
import { ownerSignedIn } from "./support/people.ts";
import { reviewed } from "./support/reviewed.ts";
import { withSession } from "./support/sign-in.ts";

let server: TestServer;
let browser: TestBrowser;
let owner: Session;
let member: Session;

beforeAll(async () => {
  // 15 ms between tokens: a turn takes a second or two, long enough to watch and to cut.
  [server, browser] = await Promise.all([
    startAccessServer({ env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "15" } }),
    openBrowser(),
  ]);
  owner = await claimOwner(server);
  member = await userWithRole(server, "member");
}, 90_000);

afterAll(async () => {
  await browser?.close();
  expect(await server.stop()).toBe(0);
});

/** A member's page, signed in, with every WebSocket it opens kept in window.__sockets. */
async function memberPage() {
  const tab = await browser.newPage();
  await withSession(tab.context, server, member.user.email);
  await tab.page.addInitScript(SOCKET_SPY);
  return tab;
}

/** The debate's whole event log, as the API gives it. */
async function eventsOf(debateId: string): Promise<LoggedEvent[]> {
  const res = await call<{ events: LoggedEvent[] }>(server, "GET", `/api/debates/${debateId}/events?limit=10000`, {
    token: owner.access_token,
  });
  expect(res.status).toBe(200);
  return res.body.events;
}

/** Each agent's turn texts as the page shows them. */
async function shownTurnTexts(page: Page): Promise<Record<string, string[]>> {
  return (await page.evaluate(`(() => {
    const out = {};
    for (const el of document.querySelectorAll(".turn-text[data-agent]")) {
      (out[el.dataset.agent] ??= []).push(el.textContent);
    }
    return out;
  })()`)) as Record<string, string[]>;
}

/** Until the page shows the debate finished. */
async function finished(page: Page): Promise<void> {
  await page.locator(".debate-status", { hasText: "Finished" }).waitFor({ timeout: 60_000 });
}

/**
 * Until `expression` (evaluated in the page) is true. Polled through page.evaluate: Playwright's
 * waitForFunction evaluates strings with eval, which the console's CSP rightly refuses.
 */
async function until(page: Page, expression: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${expression}`);
    await Bun.sleep(25);
  }
}

const debateIdOf = (page: Page) => new URL(page.url()).pathname.split("/").at(-1) as string;

describe("starting a debate", () => {
  test("the server's validation is shown at the fields it names", async () => {
    const { page, record } = await memberPage();
    await page.goto(`${server.api}/debates/new`);
    await headingIs(page, "Start a debate");
    await page.getByRole("checkbox", { name: /demo:alice/ }).waitFor();
    await page.getByLabel("Rounds").fill("40");
    await page.getByRole("button", { name: "Start the debate" }).click();
    // The empty question and the 40 rounds are both the server's complaints, each at its field.
    const question = page.getByLabel("Question");
    await page.locator("textarea[aria-invalid='true']").waitFor({ timeout: 10_000 });
    expect(await question.getAttribute("aria-invalid")).toBe("true");
    const questionError = await page.locator(`#${await question.getAttribute("aria-describedby")}`).textContent();
    expect(questionError).toMatch(/non-empty question/);
    const rounds = page.getByLabel("Rounds");
    expect(await rounds.getAttribute("aria-invalid")).toBe("true");
    const roundsError = await page
      .locator(`[id="${(await rounds.getAttribute("aria-describedby"))?.split(" ").at(-1)}"]`)
      .textContent();
    expect(roundsError).toMatch(/12/);
    expect(new URL(page.url()).pathname).toBe("/debates/new");
    await expectAccessible(page, "start a debate, with errors");
    await screenshots(page, "debate-start-errors");
    expect(record.cspViolations).toEqual([]);
  }, 60_000);

  test("a member starts a debate from the form and sees every agent's tokens arrive live", async () => {
    const { page, record } = await memberPage();
    await page.goto(`${server.api}/debates/new`);
    await headingIs(page, "Start a debate");
    await page.getByRole("checkbox", { name: /demo:alice/ }).waitFor();
    await reviewed(page, "debate-start", "start a debate");

    await page.getByLabel("Question").fill("Should the team adopt Bun for the build tooling?");
    await page.getByLabel("Other agents").fill("demo:dave");
    await page.getByLabel("Rounds").fill("2");
    await page.getByRole("button", { name: "Start the debate" }).click();
    await page.waitForURL((u) => /^\/debates\/d-/.test(u.pathname), { timeout: 15_000 });
    await headingIs(page, "Debate");
    const id = debateIdOf(page);

    // While the debate runs, each of the four agents' columns fills with streamed text.
    const agents = ["demo:alice", "demo:bob", "demo:carol", "demo:dave"];
    for (const agent of agents) {
      await page.locator(`.turn-live .turn-text[data-agent="${agent}"]`).first().waitFor({ timeout: 30_000 });
      await until(
        page,
        `[...document.querySelectorAll('.turn-text[data-agent="${agent}"]')].some((el) => el.textContent.length > 0)`,
        30_000,
      );
    }
    const live = await page.locator(".debate-status").textContent();
    expect(live).not.toContain("Finished");
    const during = await call<{ status: string }>(server, "GET", `/api/debates/${id}`, { token: owner.access_token });
    expect(during.body.status).toBe("running");
    await reviewed(page, "debate-live", "a debate, live");

    await finished(page);
    await page.getByRole("heading", { name: "Consensus" }).waitFor();
    const events = await eventsOf(id);
    expect(await shownTurnTexts(page)).toEqual(turnTextsOf(events));
    // The chart's table shows the server's agreement figures once the debate ended.
    const end = events.find((e) => e.type === "debate_end");
    const agreement = (end?.data.agreement ?? []) as { round: number; agreement: number }[];
    expect(agreement.length).toBeGreaterThan(0);
    const rows = await page.locator(".agreement-table tbody tr").allTextContents();
    expect(rows).toEqual(agreement.map((a) => `${a.round}${Math.round(a.agreement * 100)}%`));
    expect(await page.locator(".agreement-plot canvas").count()).toBe(1);
    expect(record.cspViolations).toEqual([]);
    expect(record.consoleErrors).toEqual([]);
  }, 120_000);
});

describe("a dropped connection", () => {
  test("the page resumes from the last seq it had: what it shows equals the event log", async () => {
    const created = await call<{ debate_id: string }>(server, "POST", "/api/debates", {
      token: member.access_token,
      body: {
        question: "Is a monorepo better than many repositories for a small team?",
        agents: ["demo:alice", "demo:bob", "demo:carol"],
        rounds: 3,
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.debate_id;
    const { page, record } = await memberPage();
    await page.goto(`${server.api}/debates/${id}`);
    await headingIs(page, "Debate");

    // Twice: cut the socket while tokens stream; the page opens a new one and subscribes again.
    for (const [cut, after] of [
      [1, 30],
      [2, 150],
    ] as const) {
      await until(page, `Number(document.querySelector(".debate-live")?.dataset.lastSeq ?? 0) > ${after}`, 30_000);
      expect(await page.locator(".debate-status").textContent()).not.toContain("Finished");
      const before = Number(await page.locator(".debate-live").getAttribute("data-last-seq"));
      await page.evaluate("window.__sockets.at(-1).close(4000, 'cut by the test')");
      await until(page, `window.__sockets.length === ${cut + 1}`, 15_000);
      await until(page, `window.__sent.length === ${cut + 1}`, 15_000);
      const sent = (await page.evaluate("window.__sent")) as string[];
      const resume = JSON.parse(sent.at(-1) as string) as { type: string; debate_id: string; since_seq: number };
      expect(resume.type).toBe("subscribe");
      expect(resume.debate_id).toBe(id);
      // It asked for what came after the last event it had, not the whole log again.
      expect(resume.since_seq).toBeGreaterThanOrEqual(before);
      const live = await call<{ status: string }>(server, "GET", `/api/debates/${id}`, { token: owner.access_token });
      if (cut === 2) expect(live.body.status).toBe("running");
    }
    await page.locator(".debate-status", { hasText: "Live" }).waitFor({ timeout: 15_000 });
    await screenshots(page, "debate-resumed");
    await finished(page);
    const events = await eventsOf(id);
    expect(await page.locator(".debate-live").getAttribute("data-gaps")).toBe("0");
    expect(Number(await page.locator(".debate-live").getAttribute("data-last-seq"))).toBe(events.at(-1)?.seq ?? -1);
    expect(await shownTurnTexts(page)).toEqual(turnTextsOf(events));
    // Control: the log has tokens from both sides of each cut, in every agent's turns.
    expect(events.filter((e) => e.type === "token").length).toBeGreaterThan(120);
    expect(record.cspViolations).toEqual([]);
  }, 120_000);
});

describe("a finished debate", () => {
  test("is read from its event log, without a WebSocket", async () => {
    const created = await call<{ debate_id: string }>(server, "POST", "/api/debates", {
      token: owner.access_token,
      body: { question: "Should meetings default to 25 minutes?", agents: ["demo:alice", "demo:bob"], rounds: 1 },
    });
    expect(created.status).toBe(201);
    const id = created.body.debate_id;
    for (let i = 0; i < 300; i++) {
      const got = await call<{ status: string }>(server, "GET", `/api/debates/${id}`, { token: owner.access_token });
      if (got.body.status !== "running") break;
      await Bun.sleep(100);
    }
    const { page, record } = await memberPage();
    await page.goto(`${server.api}/debates/${id}`);
    await headingIs(page, "Debate");
    await finished(page);
    await page.getByRole("heading", { name: "Consensus" }).waitFor();
    const events = await eventsOf(id);
    expect(await shownTurnTexts(page)).toEqual(turnTextsOf(events));
    expect(await page.evaluate("window.__sockets.length")).toBe(0);
    const votes = events.filter((e) => e.type === "vote").length;
    expect(await page.locator("table:has(th:text('Voter')) tbody tr").count()).toBe(votes);
    await expectAccessible(page, "a finished debate");
    await screenshots(page, "debate-finished");
    await page.setViewportSize(PHONE);
    expect(await overflowsSideways(page)).toBe(false);
    expect(record.cspViolations).toEqual([]);
  }, 90_000);

  test("another organisation's debate, or none, says so", async () => {
    const { page } = await memberPage();
    await page.goto(`${server.api}/debates/d-doesnotexist`);
    await headingIs(page, "Debate");
    await page
      .getByRole("alert")
      .filter({ hasText: /no debate/ })
      .waitFor({ timeout: 10_000 });
  }, 30_000);
});

describe("failed seats and fallbacks", () => {
  // Its own server, with the fake provider as OpenAI and OpenRouter.
  let fake: FakeProvider;
  let other: TestServer;
  beforeAll(async () => {
    fake = await startFakeProvider();
    other = await startAccessServer({
      env: { ...fake.env({ openrouter: true, providers: ["openai"] }), ARAGORA_DEMO_TOKEN_DELAY_MS: "0" },
    });
  }, 60_000);
  afterAll(async () => {
    expect(await other?.stop()).toBe(0);
    await fake?.stop();
  });

  test("a seat that failed and a turn taken by the fallback are shown in their columns", async () => {
    const quota = "openai:gpt-4.1";
    const failing = "openai:gpt-4.1-mini";
    fake.script(
      { provider: "openai", model: "gpt-4.1" },
      {
        status: 429,
        headers: { "retry-after": "1" },
        errorBody: {
          error: {
            message: "You exceeded your current quota.",
            type: "insufficient_quota",
            code: "insufficient_quota",
          },
        },
      },
    );
    fake.script({ provider: "openai", model: "gpt-4.1-mini" }, { status: 503, headers: { "retry-after": "30" } });
    const { owner: otherOwner, page } = await ownerSignedIn(browser, other);
    const created = await call<{ debate_id: string }>(other, "POST", "/api/debates", {
      token: otherOwner.access_token,
      body: { question: "Fallbacks?", agents: [quota, failing, "demo:bob"], rounds: 1, timeouts: { turn_s: 5 } },
    });
    expect(created.status).toBe(201);
    const id = created.body.debate_id;
    await page.goto(`${other.api}/debates/${id}`);
    await headingIs(page, "Debate");
    await finished(page);
    const failedSeat = page.locator(`[data-seat="${failing}"]`);
    await failedSeat.getByText("failed", { exact: true }).waitFor();
    expect(await failedSeat.textContent()).toContain("Seat failed: timeout");
    const fellBack = page.locator(`[data-seat="${quota}"]`);
    expect(await fellBack.textContent()).toContain(`Fallback in proposal: ${quota} → openrouter:openai/gpt-4.1`);
    expect(await fellBack.textContent()).toContain("Answered by the fallback openrouter:openai/gpt-4.1");
    const res = await call<{ events: LoggedEvent[] }>(other, "GET", `/api/debates/${id}/events?limit=10000`, {
      token: otherOwner.access_token,
    });
    expect(await shownTurnTexts(page)).toEqual(turnTextsOf(res.body.events));
    await expectAccessible(page, "a debate with a failed seat and a fallback");
    await screenshots(page, "debate-failures");
  }, 90_000);
});
