import { expect, test } from "bun:test";
import { ActorSystem } from "../actor/index.ts";
import { loadConfig } from "../config.ts";
import { Drain } from "../drain.ts";
import { createLogger } from "../log.ts";
import { registry } from "../metrics.ts";
import { createHttpApp } from "./app.ts";
import { WsGateway } from "./ws-gateway.ts";

/** Send one raw HTTP/1.1 request and resolve with what arrives first (status line, headers, body). */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (socket) => void socket.write(text),
        data: (socket, chunk) => {
          socket.end();
          resolve(chunk.toString());
        },
        error: (_socket, err) => reject(err),
      },
    }).catch(reject);
  });
}

const HEALTH_COUNT = 'aragora_http_request_duration_seconds_count{method="GET",route="/api/health",status="200"}';

test("GET /api/health/ws says unavailable (503) while no listener serves /ws", async () => {
  const log = createLogger("ERROR");
  const gateway = new WsGateway({ heartbeatMs: 15_000, log });
  const system = new ActorSystem({ metricsIntervalMs: 0 });
  const app = createHttpApp({
    config: loadConfig({}),
    log,
    system,
    gateway,
    drain: new Drain(),
    version: "test",
    startedAt: Date.now(),
  });
  const down = await app.handle(new Request("http://localhost/api/health/ws"));
  expect(down.status).toBe(503);
  expect(await down.json()).toEqual({ status: "unavailable", clients: 0, message: "WebSocket listener is not up" });
  gateway.setListening("dedicated", true);
  const up = await app.handle(new Request("http://localhost/api/health/ws"));
  expect(await up.json()).toEqual({ status: "healthy", clients: 0 });
  await system.shutdown();
});

test("GET /api/health on Bun's router (the probe lane) keeps the shell's contract and matches the Elysia route", async () => {
  const log = createLogger("ERROR");
  const gateway = new WsGateway({ heartbeatMs: 15_000, log });
  const system = new ActorSystem({ metricsIntervalMs: 0 });
  const drain = new Drain();
  const config = loadConfig({ ARAGORA_ALLOWED_ORIGINS: "https://console.example.com", ARAGORA_MAX_BODY_BYTES: "1024" });
  const app = createHttpApp({ config, log, system, gateway, drain, version: "test", startedAt: Date.now() });
  app.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${app.server?.port}/api/health`;
  const histogramCount = async () => {
    const text = await registry.metrics();
    const line = text.split("\n").find((l) => l.startsWith(HEALTH_COUNT));
    return Number(line?.split(" ")[1] ?? 0);
  };
  try {
    const before = await histogramCount();
    const origin = { origin: "https://console.example.com", "x-request-id": "lane-1" };
    const lane = await fetch(url, { headers: origin });
    const composed = await app.handle(new Request("http://localhost/api/health", { headers: origin }));
    for (const res of [lane, composed]) {
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: "healthy", version: "test" });
      expect(res.headers.get("x-request-id")).toBe("lane-1");
      expect(res.headers.get("vary")).toBe("Origin");
      expect(res.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
      expect(res.headers.get("content-type")).toStartWith("application/json");
    }
    expect(await histogramCount()).toBe(before + 2);

    const generated = await fetch(url);
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.headers.get("access-control-allow-origin")).toBeNull();

    // fetch() drops a GET's Content-Length, so say it on a raw socket.
    const tooBig = await rawRequest(
      app.server?.port as number,
      "GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n",
    );
    expect(tooBig).toStartWith("HTTP/1.1 413");
    expect(tooBig).toContain('"error":"payload_too_large"');

    expect((await fetch(url, { method: "HEAD" })).status).toBe(200);
    expect(drain.inflightRequests).toBe(0);

    void drain.drain(1_000);
    const draining = await fetch(url);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toMatchObject({ status: "draining" });
    expect(drain.inflightRequests).toBe(0);
  } finally {
    await app.stop(true);
    await system.shutdown();
  }
});
