/**
 * The debate history pages in a real browser against a real server with the demo agents: the list
 * of past debates with its filters (status, agent, date), pages and exports; a debate's receipt
 * downloaded and verified in the browser (valid), a tampered copy uploaded and rejected with what
 * was changed (a field, an event, a signature from another key); the leaderboard. Every page is
 * checked with axe and photographed at desktop and phone width.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { call, claimOwner, type Session, startAccessServer } from "../access/support.ts";
import { type TestServer, tempDir } from "../support/server.ts";
import { arrivesAt } from "./support/arrives-at.ts";
import {
  expectAccessible,
  openBrowser,
  overflowsSideways,
  PHONE,
  screenshots,
  type TestBrowser,
  type TestPage,
} from "./support/browser.ts";
import { headingIs } from "./support/heading.ts";
import { reviewed } from "./support/reviewed.ts";
import { signInWithPassword } from "./support/sign-in.ts";

const OWNER_EMAIL = "owner@example.com";
const CARS = "Should cities ban cars from their centres?";
const TABS = "Tabs or spaces?";
const LONG = "Will this one still run when it is cancelled?";

let server: TestServer;
let browser: TestBrowser;
let owner: Session;
let files: string;
/** Debate ids: two that finished (one with carol), one cancelled, and short ones for paging. */
let cars: string;
let tabs: string;
let cancelled: string;
const extra: string[] = [];
let tab: TestPage;

async function create(body: Record<string, unknown>): Promise<string> {
  const res = await call<{ debate_id: string }>(server, "POST", "/api/debates", {
    token: owner.access_token,
    body,
  });
  if (res.status !== 201) throw new Error(`POST /api/debates answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.debate_id;
}

/** Waits until the debate has ended and its receipt is issued. */
async function receiptOf(id: string): Promise<string> {
  for (let i = 0; i < 1200; i++) {
    const res = await fetch(`${server.api}/api/debates/${id}/receipt`, {
      headers: { authorization: `Bearer ${owner.access_token}` },
    });
    if (res.status === 200) return res.text();
    await Bun.sleep(50);
  }
  throw new Error(`debate ${id} got no receipt`);
}

beforeAll(async () => {
  [server, browser] = await Promise.all([
    // 2 ms a token: the short debates end in well under a second, and the twelve-round one cannot
    // end before its cancel arrives (at 0 it sometimes did, and the list showed it completed).
    startAccessServer({ env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "2" } }),
    openBrowser(),
  ]);
  files = tempDir("debates-history-");
  owner = await claimOwner(server, OWNER_EMAIL);
  // Twenty short debates first (oldest), so the list has a second page of 20.
  for (let i = 0; i < 20; i++) {
    extra.push(await create({ question: `Short question ${i + 1}?`, agents: ["demo:alice", "demo:bob"], rounds: 1 }));
  }
  tabs = await create({ question: TABS, agents: ["demo:alice", "demo:bob"], rounds: 1 });
  cars = await create({ question: CARS, agents: ["demo:alice", "demo:bob", "demo:carol"], rounds: 2 });
  // One at a time (they run at once on the server): 23 pollers at once would meet the account's rate limit.
  for (const id of [...extra, tabs, cars]) await receiptOf(id);
  // The newest: cancelled at once, before its twelve rounds can end.
  cancelled = await create({ question: LONG, agents: ["demo:alice", "demo:bob", "demo:carol"], rounds: 12 });
  const cancel = await call(server, "POST", `/api/debates/${cancelled}/cancel`, { token: owner.access_token });
  if (cancel.status !== 200) throw new Error(`cancel answered ${cancel.status}: ${JSON.stringify(cancel.body)}`);
  await receiptOf(cancelled);

  tab = await browser.newPage();
  await signInWithPassword(tab.page, server, OWNER_EMAIL);
  await arrivesAt(tab.page, "/debates", 20_000);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  expect(await server.stop()).toBe(0);
});

/** The questions the debates table shows, once it shows `expected` rows. */
async function questionsShown(page: Page, expected: number): Promise<string[]> {
  const rows = page.locator("table.debates-table tbody tr");
  for (let i = 0; i < 200; i++) {
    if ((await rows.count()) === expected && !(await page.locator(".loading").count())) break;
    await Bun.sleep(50);
  }
  return page.locator("table.debates-table tbody tr td:first-child > a").allTextContents();
}

/** The verdict notice under `section` once it appears: its whole text. */
async function verdictIn(page: Page, section: string): Promise<string> {
  const verdict = page.locator(`section[aria-labelledby="${section}"] .verdict`);
  await verdict.waitFor({ timeout: 20_000 });
  return (await verdict.textContent()) ?? "";
}

describe("the list of past debates", () => {
  test("shows the newest 20 with their status, and a second page with the rest", async () => {
    const { page, record } = tab;
    await page.goto(`${server.api}/debates`);
    await headingIs(page, "Debates");
    const first = await questionsShown(page, 20);
    expect(first.slice(0, 3)).toEqual([LONG, CARS, TABS]);
    const statusOf = async (question: string) =>
      page.locator("table.debates-table tbody tr", { hasText: question }).locator(".badge").textContent();
    expect(await statusOf(LONG)).toBe("cancelled");
    expect(await statusOf(CARS)).toBe("completed");
    // One badge look everywhere (StatusBadge): the tone says how the status reads.
    const toneOf = (question: string) =>
      page.locator("table.debates-table tbody tr", { hasText: question }).locator(".badge").getAttribute("class");
    expect(await toneOf(LONG)).toBe("badge badge-bad");
    expect(await toneOf(CARS)).toBe("badge badge-good");
    await reviewed(page, "debates-history-list", "debates list");

    await page.getByRole("navigation", { name: "Pages of debates" }).getByRole("link", { name: "Next page" }).click();
    await page.waitForURL((u) => u.searchParams.has("cursor"));
    const second = await questionsShown(page, 3);
    // 23 debates: 20 on the first page, the 3 oldest on the second.
    expect(second).toEqual(["Short question 3?", "Short question 2?", "Short question 1?"]);
    expect(first).not.toContain("Short question 3?");
    await page.getByRole("link", { name: "First page" }).click();
    expect((await questionsShown(page, 20))[0]).toBe(LONG);
    expect(record.cspViolations).toEqual([]);
  });

  test("filters by status, agent and date, and the address bar keeps them", async () => {
    const { page } = tab;
    await page.goto(`${server.api}/debates`);
    await headingIs(page, "Debates");
    const form = page.getByRole("form", { name: "Filter debates" });
    await form.getByLabel("Status").selectOption("cancelled");
    await form.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL((u) => u.searchParams.get("status") === "cancelled");
    expect(await questionsShown(page, 1)).toEqual([LONG]);

    await form.getByLabel("Status").selectOption("completed");
    await form.getByLabel("Agent").fill("demo:carol");
    await form.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL((u) => u.searchParams.get("agent") === "demo:carol");
    expect(await questionsShown(page, 1)).toEqual([CARS]);
    await expectAccessible(page, "debates filtered");
    await screenshots(page, "debates-history-filtered");

    // A date after today: nothing started on or after it.
    const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    await page.goto(`${server.api}/debates?since=${tomorrow}`);
    await page.getByText("No debate matches these filters.").waitFor({ timeout: 20_000 });
    expect(await form.getByLabel("Started on or after").inputValue()).toBe(tomorrow);
    // Yesterday: every debate (the first page of 20).
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await form.getByLabel("Started on or after").fill(yesterday);
    await form.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL((u) => u.searchParams.get("since") === yesterday);
    expect((await questionsShown(page, 20))[0]).toBe(LONG);

    await page.getByRole("link", { name: "Clear" }).click();
    await page.waitForURL((u) => u.search === "");
    expect((await questionsShown(page, 20))[0]).toBe(LONG);
  });

  test("exports the debates matching the filters, in each format offered", async () => {
    const { page } = tab;
    await page.goto(`${server.api}/debates?agent=demo:carol&status=completed`);
    await headingIs(page, "Debates");
    await questionsShown(page, 1);
    const downloaded = async (name: string) => {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.locator("p.downloads").getByRole("link", { name, exact: true }).click(),
      ]);
      const path = join(files, download.suggestedFilename());
      await download.saveAs(path);
      return { file: download.suggestedFilename(), text: readFileSync(path, "utf8") };
    };
    const csv = await downloaded("CSV");
    expect(csv.file).toBe("debates.csv");
    expect(csv.text).toContain(cars);
    expect(csv.text).not.toContain(tabs);
    expect(csv.text).not.toContain(cancelled);
    const jsonl = await downloaded("JSON Lines");
    const lines = jsonl.text.trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { debate_id: string }).debate_id)).toEqual([cars]);
    for (const name of ["JSON", "Markdown"]) expect((await downloaded(name)).text).toContain(CARS);
  });
});

describe("a debate's receipt", () => {
  test("is downloaded and verified in the browser: valid", async () => {
    const { page, record } = tab;
    await page.goto(`${server.api}/debates?agent=demo:carol&status=completed`);
    await questionsShown(page, 1);
    await page.getByRole("link", { name: `Verify the receipt of “${CARS}”` }).click();
    await page.waitForURL((u) => u.pathname === `/debates/${cars}/receipt`);
    await headingIs(page, "Decision receipt");
    const verdict = await verdictIn(page, "own-receipt");
    expect(verdict).toStartWith("Valid");
    expect(verdict).toContain(cars);
    const summary = await page.locator('section[aria-labelledby="own-receipt"] .receipt-summary').textContent();
    expect(summary).toContain(CARS);
    // The signature was checked with WebCrypto in the page: the server was only asked for the documents.
    const asked = record.requests.filter((u) => u.includes("/api/") && !u.includes("/api/auth/"));
    expect(asked.every((u) => /\/api\/(debates|receipts\/public-key|leaderboard)/.test(u))).toBe(true);
    await reviewed(page, "debates-history-receipt-valid", "receipt valid");
    expect(record.cspViolations).toEqual([]);
  });

  test("downloaded, then uploaded as it is: valid; with one character changed: tampered, naming what", async () => {
    const { page } = tab;
    await page.goto(`${server.api}/debates/${cars}/receipt`);
    await headingIs(page, "Decision receipt");
    await verdictIn(page, "own-receipt");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download the receipt" }).click(),
    ]);
    const original = join(files, "original-receipt.json");
    await download.saveAs(original);
    const text = readFileSync(original, "utf8");
    expect(text).toBe(await receiptOf(cars));

    const upload = async (name: string, content: string) => {
      const path = join(files, name);
      writeFileSync(path, content);
      await page.getByLabel("Receipt file (JSON)").setInputFiles(path);
      await page.locator(".uploaded-verdict .muted", { hasText: name }).waitFor({ timeout: 20_000 });
      return verdictIn(page, "upload-receipt");
    };
    expect(await upload("as-downloaded.json", text)).toStartWith("Valid");

    // One character of the question.
    const doc = JSON.parse(text) as {
      receipt: Record<string, unknown> & { question: string };
      events: { type: string; seq: number; data: Record<string, unknown> }[];
      signature: string;
    };
    const question = structuredClone(doc);
    question.receipt.question = question.receipt.question.replace("cars", "bars");
    const q = await upload("question-changed.json", JSON.stringify(question));
    expect(q).toStartWith('Tampered: field "question" was altered');
    expect(q).toContain("signature is not valid");
    await expectAccessible(page, "receipt tampered");
    await screenshots(page, "debates-history-receipt-tampered");

    // One character of one agent's token, in the events the receipt carries.
    const token = structuredClone(doc);
    const tokenEvent = token.events.find((e) => e.type === "token" && typeof e.data.text === "string");
    if (!tokenEvent) throw new Error("the receipt carries no token event");
    tokenEvent.data.text = `${String(tokenEvent.data.text)}!`;
    expect(await upload("token-changed.json", JSON.stringify(token))).toStartWith(
      `Tampered: event seq ${tokenEvent.seq} (token) was altered`,
    );

    // One character of the signature.
    const signature = structuredClone(doc);
    // The first character: all six of its bits are signature bits (the last ones are partly padding).
    signature.signature = `${signature.signature[0] === "A" ? "B" : "A"}${signature.signature.slice(1)}`;
    expect(await upload("signature-changed.json", JSON.stringify(signature))).toStartWith(
      "Tampered: signature is not valid for this server's key: every field matches its digest",
    );

    // A forger who changes the question, fixes its digest and signs again with a key of their own,
    // which they embed: pinned to the server's key, the page refuses it.
    const forged = structuredClone(question);
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const canonicalOf = (await import("canonicalize")).default;
    const digest = new Bun.CryptoHasher("sha256").update(canonicalOf(forged.receipt.question) ?? "").digest("hex");
    (forged.receipt.digests as Record<string, string>).question = digest;
    forged.signature = sign(null, Buffer.from(canonicalOf(forged.receipt) ?? ""), privateKey).toString("base64");
    (forged as Record<string, unknown>).public_key = publicKey.export({ type: "spki", format: "pem" });
    const f = await upload("forged.json", JSON.stringify(forged));
    expect(f).toStartWith("Tampered: signature is not valid for this server's key");
    expect(f).toContain('field "public_key" names a different public key');

    expect(await upload("not-json.json", "{ not json")).toStartWith("Tampered: not JSON");
  });

  test("a receipt file can be checked from its own page, without a debate", async () => {
    const { page, record } = tab;
    await page.goto(`${server.api}/debates`);
    await page.getByRole("link", { name: "Verify a receipt file" }).click();
    await headingIs(page, "Verify a receipt");
    const path = join(files, "tabs.json");
    writeFileSync(path, await receiptOf(tabs));
    await page.getByLabel("Receipt file (JSON)").setInputFiles(path);
    const verdict = await verdictIn(page, "upload-receipt");
    expect(verdict).toStartWith("Valid");
    expect(verdict).toContain(tabs);
    await expectAccessible(page, "verify a receipt");
    await screenshots(page, "debates-history-verify");
    expect(record.cspViolations).toEqual([]);
  });
});

describe("the leaderboard", () => {
  test("ranks the agents of the organisation's finished debates", async () => {
    const { page, record } = tab;
    await page.goto(`${server.api}/debates`);
    await page.getByRole("link", { name: "Leaderboard" }).click();
    await headingIs(page, "Leaderboard");
    const table = page.getByRole("table", { name: /Agents by ELO rating/ });
    await table.waitFor({ timeout: 20_000 });
    const names = await table.locator("tbody th[scope=row]").allTextContents();
    expect([...names].sort()).toEqual(["demo:alice", "demo:bob", "demo:carol"]);
    const api = await call<{ agents: { name: string; elo: number }[] }>(server, "GET", "/api/leaderboard/rankings", {
      token: owner.access_token,
    });
    const byElo = [...api.body.agents].sort((a, b) => b.elo - a.elo).map((a) => a.name);
    expect(names).toEqual(byElo);
    const first = await table.locator("tbody tr").first().locator("td").allTextContents();
    expect(first[0]).toBe("1");
    expect(Number(first[1])).toBe(Math.round(api.body.agents.find((a) => a.name === byElo[0])?.elo ?? 0));
    await reviewed(page, "debates-history-leaderboard", "leaderboard");
    expect(record.cspViolations).toEqual([]);
  });

  test("on a phone the table is a named region the keyboard reaches and scrolls sideways", async () => {
    const { page } = tab;
    await page.goto(`${server.api}/debates/leaderboard`);
    await headingIs(page, "Leaderboard");
    await page.setViewportSize(PHONE);
    try {
      const region = page.getByRole("region", { name: "Leaderboard" });
      await region.getByRole("table").waitFor({ timeout: 20_000 });
      const box = (await region.evaluate((el) => [el.scrollWidth, el.clientWidth])) as number[];
      // Wider than the phone, so the scroll matters; the page itself does not scroll sideways.
      expect(box[0]).toBeGreaterThan(box[1] as number);
      expect(await overflowsSideways(page)).toBe(false);
      // Chromium lets the keyboard reach a scroller by itself; Safari does not, so the region says so.
      expect(await region.getAttribute("tabindex")).toBe("0");
      let reached = false;
      for (let i = 0; i < 30 && !reached; i++) {
        await page.keyboard.press("Tab");
        reached = await region.evaluate((el) => el === el.ownerDocument.activeElement);
      }
      expect(reached).toBe(true);
      // The arrow key scrolls the focused region (smoothly: the position is read until it moves).
      await page.keyboard.press("ArrowRight");
      let scrolled = 0;
      for (let i = 0; i < 40 && scrolled === 0; i++) {
        await Bun.sleep(50);
        scrolled = await region.evaluate((el) => el.scrollLeft);
      }
      expect(scrolled).toBeGreaterThan(0);
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });
});
