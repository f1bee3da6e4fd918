/**
 * The guarded sender over real HTTP: what it refuses never reaches a listening receiver, what it
 * sends goes to the address it checked (shown with two receivers on one port, 127.0.0.1 and
 * 127.0.0.2, and a resolver that answers differently from the system's), TLS is checked against
 * the URL's name while connecting to the address, redirects come back unfollowed, and the timeout
 * covers the whole exchange.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { guardedSender } from "../../runtime/http/guarded-sender.ts";
import { OutboundError, type OutboundRequest, type SendOutbound } from "../../runtime/http/outbound.ts";
import { type ResolveHost, vetOutboundTarget } from "../../runtime/http/outbound-guard.ts";
import { type FakeReceiver, startFakeReceiver } from "../support/fake-receiver.ts";
import { testCertificate } from "../support/tls-cert.ts";

const strict = { allowLoopback: false, requireHttps: false };
const loose = { allowLoopback: true, requireHttps: false };

/** A resolver with fixed answers (a name it does not know does not resolve), counting its calls. */
function resolverOf(answers: Record<string, readonly string[] | (() => readonly string[])>) {
  const calls: string[] = [];
  const resolve: ResolveHost = async (host) => {
    calls.push(host);
    const answer = answers[host];
    if (answer === undefined) throw Object.assign(new Error(`${host} not found`), { code: "ENOTFOUND" });
    return typeof answer === "function" ? answer() : answer;
  };
  return { resolve, calls };
}

const post = (url: string, extra: Partial<OutboundRequest> = {}): OutboundRequest => ({
  url,
  headers: { "content-type": "application/json" },
  body: '{"event": "test"}',
  timeoutMs: 5_000,
  ...extra,
});

async function failure(send: SendOutbound, request: OutboundRequest): Promise<OutboundError> {
  try {
    const res = await send(request);
    throw new Error(`expected a failure, got HTTP ${res.status}`);
  } catch (err) {
    if (!(err instanceof OutboundError)) throw err;
    return err;
  }
}

let a: FakeReceiver;
let b: FakeReceiver;

beforeAll(async () => {
  a = await startFakeReceiver({ answer: () => ({ status: 200, body: "A" }) });
  // The same port on another loopback address: where a second resolution would lead.
  b = await startFakeReceiver({ hostname: "127.0.0.2", port: a.port, answer: () => ({ status: 200, body: "B" }) });
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});

describe("refused with loopback not allowed: nothing reaches the receiver", () => {
  const targets = (port: number) => [
    [`http://127.0.0.1:${port}/hook`, "loopback"],
    [`http://2130706433:${port}/hook`, "loopback"],
    [`http://[::ffff:127.0.0.1]:${port}/hook`, "loopback"],
    [`http://localhost:${port}/hook`, "loopback"],
    // Names resolved at send time to the receiver's address.
    [`http://inside.test:${port}/hook`, "loopback"],
    [`http://mapped.test:${port}/hook`, "loopback"],
    [`http://metadata.test:${port}/hook`, "metadata"],
    [`http://private.test:${port}/hook`, "private"],
    [`http://user:pw@inside.test:${port}/hook`, "credentials"],
  ];
  const names = {
    localhost: ["127.0.0.1"],
    "inside.test": ["127.0.0.1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "private.test": ["10.0.0.1"],
  };

  test("every class is refused before any connection", async () => {
    const { resolve } = resolverOf(names);
    const send = guardedSender({ policy: strict, resolve });
    const before = a.received.length;
    for (const [url, reason] of targets(a.port)) {
      const err = await failure(send, post(url as string));
      expect({ url, kind: err.kind, reason: err.reason }).toEqual({ url, kind: "refused", reason });
    }
    expect(a.received.length).toBe(before);
  });

  test("the control: with loopback allowed the same loopback targets arrive", async () => {
    const { resolve } = resolverOf(names);
    const send = guardedSender({ policy: loose, resolve });
    const loopback = targets(a.port).filter(([, reason]) => reason === "loopback");
    for (const [url] of loopback) {
      const res = await send(post(url as string));
      expect({ url, status: res.status, body: res.body }).toEqual({ url, status: 200, body: "A" });
    }
    // Private and metadata addresses stay refused.
    expect((await failure(send, post(`http://private.test:${a.port}/`))).reason).toBe("private");
    expect((await failure(send, post(`http://metadata.test:${a.port}/`))).reason).toBe("metadata");
  });

  test("localhost through the system resolver is refused, and reached when allowed", async () => {
    expect((await failure(guardedSender({ policy: strict }), post(`http://localhost:${a.port}/`))).reason).toBe(
      "loopback",
    );
    const res = await guardedSender({ policy: loose })(post(`http://localhost:${a.port}/sys`));
    expect(res.status).toBe(200);
    expect(a.received.at(-1)?.path).toBe("/sys");
  });
});

describe("DNS rebinding cannot reach inside", () => {
  test("a name that was public at registration and resolves inside at send time is refused", async () => {
    let answer = ["93.184.215.14"];
    const { resolve } = resolverOf({ "rebind.test": () => answer });
    const url = `http://rebind.test:${a.port}/hook`;
    // Registration: the name resolves to a public address and passes.
    expect((await vetOutboundTarget(url, strict, resolve)).address).toBe("93.184.215.14");
    answer = ["127.0.0.1"];
    const before = a.received.length;
    const err = await failure(guardedSender({ policy: strict, resolve }), post(url));
    expect({ kind: err.kind, reason: err.reason }).toEqual({ kind: "refused", reason: "loopback" });
    expect(a.received.length).toBe(before);
  });

  test("the connection goes to the address that was checked, not to a second resolution", async () => {
    // The resolver answers 127.0.0.2 for localhost; the system would answer 127.0.0.1. A sender
    // that let fetch resolve the name itself would reach A.
    const { resolve, calls } = resolverOf({ localhost: ["127.0.0.2"] });
    const send = guardedSender({ policy: loose, resolve });
    const beforeA = a.received.length;
    const res = await send(post(`http://localhost:${a.port}/pinned`, { headers: { Host: "evil.test" } }));
    expect(res.body).toBe("B");
    expect(calls).toEqual(["localhost"]);
    expect(a.received.length).toBe(beforeA);
    const arrived = b.received.at(-1);
    expect(arrived?.path).toBe("/pinned");
    expect(arrived?.localAddress).toBe("127.0.0.2");
    // The receiver sees the URL's host, not the address.
    expect(arrived?.headers.host).toBe(`localhost:${a.port}`);
  });

  test("a resolver that changes its answer after the check is asked once per request", async () => {
    let n = 0;
    const { resolve, calls } = resolverOf({ "flip.test": () => (n++ === 0 ? ["127.0.0.1"] : ["127.0.0.2"]) });
    const send = guardedSender({ policy: loose, resolve });
    const res = await send(post(`http://flip.test:${a.port}/flip`));
    expect(res.body).toBe("A");
    expect(calls).toEqual(["flip.test"]);
    expect(a.received.at(-1)?.path).toBe("/flip");
  });
});

describe("TLS: connected to the address, verified against the name", () => {
  let tls: FakeReceiver;
  const cert = testCertificate();
  beforeAll(async () => {
    tls = await startFakeReceiver({ tls: cert, answer: () => ({ status: 200, body: "secure" }) });
  });
  afterAll(() => tls.stop());

  test("the name is the server name (SNI and certificate check) and the Host header", async () => {
    const { resolve } = resolverOf({ "hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"] });
    const send = guardedSender({ policy: loose, resolve, ca: cert.cert });
    const res = await send(post(`https://hooks.test:${tls.port}/tls`));
    expect(res).toMatchObject({ status: 200, body: "secure" });
    expect(tls.received.at(-1)?.headers.host).toBe(`hooks.test:${tls.port}`);
    // The same address under a name the certificate does not cover: refused by the TLS check.
    const wrong = await failure(send, post(`https://other.test:${tls.port}/tls`));
    expect(wrong.kind).toBe("network");
  });

  test("certificates are verified (a self-signed one without its CA fails)", async () => {
    const { resolve } = resolverOf({ "hooks.test": ["127.0.0.1"] });
    const err = await failure(guardedSender({ policy: loose, resolve }), post(`https://hooks.test:${tls.port}/`));
    expect(err.kind).toBe("network");
  });

  test("https is required in production", async () => {
    const { resolve } = resolverOf({ "hooks.test": ["8.8.8.8"] });
    const err = await failure(
      guardedSender({ policy: { allowLoopback: false, requireHttps: true }, resolve }),
      post("http://hooks.test/"),
    );
    expect(err.reason).toBe("insecure");
  });
});

describe("the exchange", () => {
  let r: FakeReceiver;
  beforeAll(async () => {
    r = await startFakeReceiver({
      answer: (req) => ({ status: 200, headers: { "x-seen": req.headers["x-custom"] ?? "" }, body: req.body }),
    });
  });
  afterAll(() => r.stop());
  const send = guardedSender({ policy: loose });

  test("the exact bytes and headers arrive; the response comes back", async () => {
    const bytes = new TextEncoder().encode('{"text": "caf\\u00e9 ☕"}');
    const res = await send(
      post(`${r.url}/exact`, { body: bytes, headers: { "x-custom": "v1", "content-type": "application/json" } }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("x-seen")).toBe("v1");
    expect(r.received.at(-1)?.body).toBe('{"text": "caf\\u00e9 ☕"}');
    expect(r.received.at(-1)?.method).toBe("POST");
    expect(res.latencyMs).toBeGreaterThan(0);
    const get = await send({ url: `${r.url}/get?x=1`, method: "GET", headers: {}, body: "", timeoutMs: 5000 });
    expect(get.status).toBe(200);
    expect(r.received.at(-1)).toMatchObject({ method: "GET", path: "/get?x=1" });
  });

  test("a redirect is returned as it is, never followed", async () => {
    const before = a.received.length;
    r.failNext({ kind: "redirect", location: `${a.url}/elsewhere`, status: 307 });
    const res = await send(post(`${r.url}/moved`));
    expect(res.status).toBe(307);
    expect(res.headers.get("location")).toBe(`${a.url}/elsewhere`);
    expect(a.received.length).toBe(before);
  });

  test("the response body is cut to the limit", async () => {
    const big = guardedSender({ policy: loose, maxResponseBytes: 1000 });
    const res = await big(post(`${r.url}/big`, { body: "x".repeat(200_000) }));
    expect(res.status).toBe(200);
    expect(res.body).toBe("x".repeat(1000));
    // The rest is not waited for: a body whose tail never comes still answers at once.
    r.failNext({ kind: "stall-body", delayMs: 10_000, sentBytes: 4000 });
    const stalled = await big(post(`${r.url}/big-stalled`, { body: "y".repeat(8000), timeoutMs: 3000 }));
    expect(stalled.body).toBe("y".repeat(1000));
  });

  test("a compressed body is cut to the limit once inflated, whatever length it announces", async () => {
    // 200 KB of text gzipped to a few hundred bytes: its Content-Length is far under the limit.
    const inflated = "z".repeat(200_000);
    const gz = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        new Response(Bun.gzipSync(new TextEncoder().encode(inflated)), {
          headers: { "content-encoding": "gzip", "content-type": "text/plain" },
        }),
    });
    try {
      const big = guardedSender({ policy: loose, maxResponseBytes: 1000 });
      const res = await big(post(`http://127.0.0.1:${gz.port}/gzip`));
      expect(res.status).toBe(200);
      expect(res.body).toBe("z".repeat(1000));
    } finally {
      gz.stop(true);
    }
  });

  test("a receiver that does not answer in time: timeout", async () => {
    r.failNext({ kind: "slow", delayMs: 10_000 });
    const started = performance.now();
    const err = await failure(send, post(`${r.url}/slow`, { timeoutMs: 300 }));
    expect(err.kind).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  test("the timeout covers the body: headers at once, the rest too late", async () => {
    r.failNext({ kind: "stall-body", delayMs: 10_000 });
    const err = await failure(send, post(`${r.url}/stall`, { timeoutMs: 300 }));
    expect(err.kind).toBe("timeout");
  });

  test("the timeout covers the resolution", async () => {
    const hanging = guardedSender({ policy: loose, resolve: () => new Promise(() => {}) });
    const err = await failure(hanging, post("http://hang.test/", { timeoutMs: 200 }));
    expect(err.kind).toBe("timeout");
  });

  test("a reset connection and a refused one are network errors", async () => {
    r.failNext({ kind: "reset" });
    const reset = await failure(send, post(`${r.url}/reset`));
    expect(reset.kind).toBe("network");
    expect(r.received.at(-1)?.fault).toBe("reset");
    const closed = await startFakeReceiver();
    const url = closed.url;
    await closed.stop();
    expect((await failure(send, post(`${url}/`))).kind).toBe("network");
  });

  test("a name that does not resolve is a dns error", async () => {
    const { resolve } = resolverOf({});
    const err = await failure(guardedSender({ policy: loose, resolve }), post("http://nowhere.test/"));
    expect(err.kind).toBe("dns");
  });

  test("a caller's abort ends the request", async () => {
    r.failNext({ kind: "slow", delayMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const err = await failure(send, post(`${r.url}/abort`, { signal: controller.signal }));
    expect(err.kind).toBe("network");
    expect(err.message).toContain("cancelled");
  });
});
