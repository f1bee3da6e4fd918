/**
 * The developer portal in a real browser against a real server (loopback receivers allowed, demo
 * agents streaming at once): an owner makes an API key in the page, copies it with the copy
 * button and uses it with curl (200), revokes it (curl then 401); adds a webhook pointing at a
 * local receiver, sends a test event the receiver gets and the delivery log shows with its attempt,
 * rotates the secret; sees a dead letter and retries it into a delivery; reads usage and cost
 * charts of a finished debate; adds and removes an integration; runs the quick start's
 * TypeScript as written on the page. A member is told which sections their role cannot use.
 * Every page is checked with axe and photographed at desktop and phone width.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { call, claimOwner, type Session, startAccessServer } from "../access/support.ts";
import { BUN, type TestServer, tempDir } from "../support/server.ts";
import { type Receiver, startReceiver } from "../webhook/receiver.ts";
import { arrivesAt } from "./support/arrives-at.ts";
import { expectAccessible, openBrowser, screenshots, type TestBrowser, type TestPage } from "./support/browser.ts";
import { headingIs } from "./support/heading.ts";
import { personSignedIn } from "./support/people.ts";
import { reviewed } from "./support/reviewed.ts";
import { signInWithPassword } from "./support/sign-in.ts";

const OWNER_EMAIL = "owner@example.com";

let server: TestServer;
let browser: TestBrowser;
let owner: Session;
let receiver: Receiver;
let failing: Receiver;
let tab: TestPage;

beforeAll(async () => {
  receiver = startReceiver();
  failing = startReceiver();
  [server, browser] = await Promise.all([
    startAccessServer({
      env: {
        // The receivers listen on loopback, which the server refuses unless told.
        ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true",
        // A failing delivery is dead-lettered after one quick retry.
        ARAGORA_WEBHOOK_MAX_RETRIES: "1",
        ARAGORA_WEBHOOK_BASE_DELAY_SECONDS: "0.1",
        ARAGORA_WEBHOOK_MAX_DELAY_SECONDS: "0.2",
        ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
      },
    }),
    openBrowser(),
  ]);
  owner = await claimOwner(server, OWNER_EMAIL);
  tab = await browser.newPage();
  await tab.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.api });
  // Revoke and remove ask "are you sure?": yes.
  tab.page.on("dialog", (dialog) => void dialog.accept());
  await signInWithPassword(tab.page, server, OWNER_EMAIL);
  await arrivesAt(tab.page, "/debates", 20_000);
}, 120_000);

afterAll(async () => {
  receiver?.stop();
  failing?.stop();
  await browser?.close();
  expect(await server.stop()).toBe(0);
});

/** Opens a section of the portal through its own navigation. */
async function section(page: Page, link: string, heading: string, path: string): Promise<void> {
  await page.getByRole("navigation", { name: "Developer" }).getByRole("link", { name: link, exact: true }).click();
  await arrivesAt(page, path);
  await headingIs(page, heading);
}

/** The runbook's signature of a delivery's body with `secret` (X-Webhook-Signature). */
const signed = (secret: string, body: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

/** The HTTP status curl gets for GET `path` with `key` as its bearer token. */
async function curlStatus(key: string, path: string): Promise<number> {
  const proc = Bun.spawn(
    [
      "curl",
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-H",
      `Authorization: Bearer ${key}`,
      `${server.api}${path}`,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect(code).toBe(0);
  return Number(out);
}

describe("API keys", () => {
  let key = "";

  test("a key made in the page is shown once, copied with its button, and works with curl", async () => {
    const { page, record } = tab;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Developer", exact: true }).click();
    await headingIs(page, "Developer");
    await page.getByText("No API keys yet.").waitFor();
    await page.getByRole("link", { name: "Swagger UI" }).waitFor();

    await page.getByLabel("Key name").fill("ci pipeline");
    await page.getByLabel("Role", { exact: true }).selectOption("member");
    await page.getByRole("button", { name: "Create API key" }).click();
    const shown = page.locator("[data-secret]");
    await shown.waitFor();
    key = ((await shown.textContent()) ?? "").trim();
    expect(key).toMatch(/^ara_live_/);

    await page.getByRole("button", { name: "Copy the API key" }).click();
    await page.getByText("Copied.").waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(key);

    // The list shows the key by its prefix and last four only.
    const row = page.getByRole("row").filter({ hasText: "ci pipeline" });
    await row.waitFor();
    const listed = (await row.textContent()) ?? "";
    expect(listed).toContain(key.slice(-4));
    expect(listed).not.toContain(key);
    expect(listed).toContain("member");

    expect(await curlStatus(key, "/api/debates")).toBe(200);
    await reviewed(page, "developer-key-created");

    // Done: the key is gone from the page for good.
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.locator("[data-secret]").count()).toBe(0);
    expect(await page.locator("main").textContent()).not.toContain(key);
    expect(record.cspViolations).toEqual([]);
  });

  test("revoking it in the page stops curl within seconds", async () => {
    const { page } = tab;
    await page.getByRole("button", { name: "Revoke ci pipeline" }).click();
    await page.getByText("No API keys yet.").waitFor();
    const deadline = Date.now() + 5000;
    let status = await curlStatus(key, "/api/debates");
    while (status !== 401 && Date.now() < deadline) {
      await Bun.sleep(100);
      status = await curlStatus(key, "/api/debates");
    }
    expect(status).toBe(401);
  });
});

describe("webhooks", () => {
  test("a webhook made in the page gets a test event, seen in its delivery log with the attempt", async () => {
    const { page, record } = tab;
    await page.goto(`${server.api}/developer`);
    await headingIs(page, "Developer");
    await section(page, "Webhooks", "Webhooks", "/developer/webhooks");
    await page.getByText("No webhooks yet.").waitFor();
    await page.getByText("No dead letters").waitFor();
    await reviewed(page, "developer-webhooks-empty");

    await page.getByLabel("Endpoint URL").fill(receiver.url);
    await page.getByLabel("Description").fill("the test receiver");
    await page.getByLabel("debate_end").check();
    await page.getByRole("button", { name: "Add webhook" }).click();
    const secret = ((await page.locator("[data-secret]").textContent()) ?? "").trim();
    expect(secret.length).toBeGreaterThan(16);
    await page.getByRole("link", { name: receiver.url }).first().waitFor();
    await reviewed(page, "developer-webhook-created");

    await page.getByRole("cell").getByRole("link", { name: receiver.url }).click();
    await headingIs(page, "Webhook");
    await page.getByText("No deliveries yet").waitFor();
    const before = receiver.received.length;
    await page.getByRole("button", { name: "Send a test event" }).click();
    await receiver.waitFor(before + 1, 15_000);
    const got = receiver.received[before];
    expect(got?.path).toBe("/hook");
    // Signed with the secret the page showed once.
    expect(got?.headers["x-webhook-signature"]).toBe(signed(secret, got?.body ?? ""));
    // The log follows the delivery until it arrived, with its attempt and the receiver's answer.
    await page.getByText("delivered", { exact: true }).waitFor({ timeout: 15_000 });
    const attempts = page.getByRole("list", { name: /^Attempts of dlv-/ });
    expect(await attempts.textContent()).toContain("HTTP 200");
    expect(record.cspViolations).toEqual([]);
    await reviewed(page, "developer-webhook-log");

    // Rotation shows the new secret once; the old one still signs during the overlap.
    await page.getByLabel("Overlap (seconds)").fill("60");
    await page.getByRole("button", { name: "Rotate the secret" }).click();
    const rotated = page.locator("[data-secret]");
    await rotated.waitFor();
    const next = ((await rotated.textContent()) ?? "").trim();
    expect(next).not.toBe(secret);
    expect(next.length).toBeGreaterThan(16);
    await page.getByText("The previous secret still signs deliveries until").waitFor();
    // The next event is signed with the new secret, and with the old one beside it during the overlap.
    const sent = receiver.received.length;
    await page.getByRole("button", { name: "Send a test event" }).click();
    await receiver.waitFor(sent + 1, 15_000);
    const after = receiver.received[sent];
    expect(after?.headers["x-webhook-signature"]).toBe(signed(next, after?.body ?? ""));
    expect(after?.headers["x-webhook-signature-previous"]).toBe(signed(secret, after?.body ?? ""));
    await page
      .getByRole("row")
      .filter({ hasText: after?.headers["webhook-id"] ?? "(no id)" })
      .waitFor();
  });

  test("a dead letter is listed and sent again by its retry button", async () => {
    const { page } = tab;
    failing.script(() => ({ status: 500, body: "down" }));
    const made = await call<{ id: string }>(server, "POST", "/api/webhooks", {
      token: owner.access_token,
      body: { url: failing.url, description: "always down" },
    });
    expect(made.status).toBe(201);
    const sent = await call<{ delivery_id: string }>(server, "POST", `/api/webhooks/${made.body.id}/test`, {
      token: owner.access_token,
    });
    expect(sent.status).toBe(202);
    await failing.waitFor(2, 15_000);
    // Dead-lettered once its retry failed.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const dead = await call<{ dead_letters: { delivery_id: string }[] }>(
        server,
        "GET",
        "/api/webhooks/dead-letters",
        {
          token: owner.access_token,
        },
      );
      if (dead.body.dead_letters.some((d) => d.delivery_id === sent.body.delivery_id)) break;
      if (Date.now() > deadline) throw new Error("the failing delivery was never dead-lettered");
      await Bun.sleep(100);
    }

    await page.goto(`${server.api}/developer/webhooks`);
    await headingIs(page, "Webhooks");
    const retry = page.getByRole("button", { name: `Retry delivery ${sent.body.delivery_id}` });
    await retry.waitFor();
    expect(await page.getByRole("row").filter({ hasText: sent.body.delivery_id }).textContent()).toContain(
      "dead lettered",
    );
    await reviewed(page, "developer-webhooks-dead-letter");

    failing.script(() => ({ status: 200, body: "ok" }));
    const count = failing.received.length;
    await retry.click();
    await page.getByText(`Delivery ${sent.body.delivery_id} is queued again`).waitFor();
    await failing.waitFor(count + 1, 15_000);
    expect(failing.received.at(-1)?.body).toContain(sent.body.delivery_id);

    // Its endpoint is disabled (no test event then), enabled again, and removed from its own page.
    // The endpoints' table (the dead letters' table may still list the retried delivery, linked to it too).
    await page.getByRole("region", { name: "Webhook endpoints" }).getByRole("link", { name: failing.url }).click();
    await headingIs(page, "Webhook");
    await page.getByRole("button", { name: "Disable" }).click();
    await page.getByText("Disabled: no event is sent to it").waitFor();
    // The page reads the endpoint again after the change: its button says Enable once it has.
    await page.getByRole("button", { name: "Enable", exact: true }).waitFor();
    expect(await page.getByRole("button", { name: "Send a test event" }).isDisabled()).toBe(true);
    const stored = await call<{ enabled: boolean }>(server, "GET", `/api/webhooks/${made.body.id}`, {
      token: owner.access_token,
    });
    expect(stored.body.enabled).toBe(false);
    await page.getByRole("button", { name: "Enable" }).click();
    await page.getByText("Enabled.").waitFor();
    await page.getByRole("button", { name: "Remove" }).click();
    await arrivesAt(page, "/developer/webhooks");
    await page.getByRole("cell").getByRole("link", { name: receiver.url }).waitFor();
    expect(await page.getByRole("cell").getByRole("link", { name: failing.url }).count()).toBe(0);
  });
});

describe("usage and cost", () => {
  test("a finished debate's tokens and cost are drawn per day and listed per agent", async () => {
    const started = await call<{ debate_id: string }>(server, "POST", "/api/debates", {
      token: owner.access_token,
      body: { question: "Tabs or spaces?", agents: ["demo:alice", "demo:bob"], rounds: 1 },
    });
    expect(started.status).toBe(201);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const debate = await call<{ status: string }>(server, "GET", `/api/debates/${started.body.debate_id}`, {
        token: owner.access_token,
      });
      if (debate.body.status !== "running") break;
      if (Date.now() > deadline) throw new Error("the debate did not finish within 30 s");
      await Bun.sleep(200);
    }

    const { page, record } = tab;
    await page.goto(`${server.api}/developer`);
    await headingIs(page, "Developer");
    await section(page, "Usage", "Usage and cost", "/developer/usage");
    await page.getByRole("cell", { name: "demo:alice" }).waitFor();
    await page.getByRole("cell", { name: "demo:bob" }).waitFor();
    // Two uPlot charts, each a canvas described for screen readers.
    await page
      .getByRole("img", { name: /^Cost per day from / })
      .locator("canvas")
      .first()
      .waitFor();
    await page
      .getByRole("img", { name: /^Input and output tokens per day/ })
      .locator("canvas")
      .first()
      .waitFor();
    const today = new Date().toISOString().slice(0, 10);
    await page.getByText("The figures per day").click();
    await page.getByRole("cell", { name: today }).waitFor();
    const figures = (await page.locator(".figures").textContent()) ?? "";
    expect(figures).toMatch(/Debates1/);
    expect(record.cspViolations).toEqual([]);
    await reviewed(page, "developer-usage");

    // The charts take the dark theme's colours when it is switched on.
    const toggle = page.getByRole("button", { name: "Dark theme" });
    await toggle.click();
    if ((await toggle.getAttribute("aria-pressed")) !== "true") await toggle.click();
    await expectAccessible(page, "developer-usage, dark theme");
    await screenshots(page, "developer-usage-dark");
    await toggle.click();

    await page.getByLabel("Period").selectOption("7");
    await page.getByRole("img", { name: new RegExp(`^Cost per day from \\d{4}-\\d{2}-\\d{2} to ${today}`) }).waitFor();
  });
});

describe("integrations", () => {
  test("an integration is added (its URL shown by the last four only) and removed", async () => {
    const { page } = tab;
    await page.goto(`${server.api}/developer`);
    await headingIs(page, "Developer");
    await section(page, "Integrations", "Integrations", "/developer/integrations");
    await page.getByText("No integrations yet.").waitFor();
    await reviewed(page, "developer-integrations-empty");

    await page.getByLabel("Kind").selectOption("discord");
    await page.getByLabel("Integration name").fill("team chat");
    await page.getByLabel("Incoming webhook URL").fill(receiver.url);
    await page.getByRole("button", { name: "Add integration" }).click();
    const row = page.getByRole("row").filter({ hasText: "team chat" });
    await row.waitFor();
    const text = (await row.textContent()) ?? "";
    expect(text).toContain("Discord");
    expect(text).toContain(receiver.url.slice(-4));
    expect(text).not.toContain(receiver.url);
    await reviewed(page, "developer-integrations");

    await page.getByRole("button", { name: "Remove team chat" }).click();
    await page.getByText("No integrations yet.").waitFor();
  });
});

describe("quick start and provider keys", () => {
  test("the provider keys show the last four only", async () => {
    const put = await call(server, "PUT", "/api/org/provider-keys/anthropic", {
      token: owner.access_token,
      body: { key: "sk-ant-test-key-0123456789-wxyz" },
    });
    expect([200, 201]).toContain(put.status);
    const { page } = tab;
    await page.goto(`${server.api}/developer`);
    await headingIs(page, "Developer");
    const row = page.getByRole("row").filter({ hasText: "anthropic" });
    await row.waitFor();
    const text = (await row.textContent()) ?? "";
    expect(text).toContain("wxyz");
    expect(text).not.toContain("sk-ant-test");
    await reviewed(page, "developer");
  });

  test("the TypeScript example, as the page writes it for this server, starts a debate and follows it to its end", async () => {
    const { page, record } = tab;
    await page.goto(`${server.api}/developer`);
    await headingIs(page, "Developer");
    await section(page, "Quick start", "Quick start", "/developer/quick-start");
    const examples = page.locator("pre.example");
    const curl = (await examples.nth(0).textContent()) ?? "";
    const script = (await examples.nth(1).textContent()) ?? "";
    expect(curl).toContain(`export ARAGORA_URL=${server.api}`);
    expect(script).toContain(JSON.stringify(server.api));
    expect(script).toContain(server.api.replace(/^http/, "ws"));
    await page.getByRole("button", { name: "Copy the TypeScript example" }).click();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(script);
    expect(record.cspViolations).toEqual([]);
    await reviewed(page, "developer-quick-start");

    const made = await call<{ key: string }>(server, "POST", "/api/auth/api-key", {
      token: owner.access_token,
      body: { name: "quick start", role: "member" },
    });
    expect(made.status).toBe(201);
    const dir = tempDir("aragora-quick-start-");
    writeFileSync(join(dir, "debate.ts"), script);
    const proc = Bun.spawn([BUN, "debate.ts"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", ARAGORA_API_KEY: made.body.key },
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill(), 45_000);
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    clearTimeout(timer);
    if (code !== 0) throw new Error(`the example exited ${code}: ${err}\n${out}`);
    expect(out).toContain("[debate_start]");
    expect(out).toContain("status: completed");

    // The curl example's start, as written (the key from the environment instead of the placeholder).
    const start = curl
      .slice(0, curl.indexOf("# Its events"))
      .split("\n")
      .filter((line) => !line.startsWith("export ARAGORA_API_KEY="))
      .join("\n");
    const shell = Bun.spawn(["sh", "-c", start], {
      env: { PATH: process.env.PATH ?? "", ARAGORA_API_KEY: made.body.key },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [answer, shellCode] = await Promise.all([new Response(shell.stdout).text(), shell.exited]);
    expect(shellCode).toBe(0);
    expect(JSON.parse(answer)).toMatchObject({ debate_id: expect.stringMatching(/^d-/), status: "running" });
  }, 60_000);
});

describe("a member", () => {
  test("opens the portal and is told which sections their role cannot use", async () => {
    const { page, record } = await personSignedIn(browser, server, "member");
    await page.goto(`${server.api}/developer`);
    await headingIs(page, "Developer");
    await page.getByText("Your role cannot manage the organisation's API keys").waitFor();
    await reviewed(page, "developer-member");
    await section(page, "Webhooks", "Webhooks", "/developer/webhooks");
    await page.getByText("Your role cannot manage the organisation's webhooks").waitFor();
    await section(page, "Usage", "Usage and cost", "/developer/usage");
    await page.getByText("Your role cannot read the organisation's usage and cost").waitFor();
    // The API refuses too: the page only follows it.
    expect(await page.evaluate(`fetch("/api/webhooks").then((r) => r.status)`)).toBe(403);
    await section(page, "Quick start", "Quick start", "/developer/quick-start");
    expect(record.cspViolations).toEqual([]);
  });
});
