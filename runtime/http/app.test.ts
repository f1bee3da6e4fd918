import { expect, test } from "bun:test";
import { ActorSystem } from "../actor/index.ts";
import { loadConfig } from "../config.ts";
import { Drain } from "../drain.ts";
import { createLogger } from "../log.ts";
import { createHttpApp } from "./app.ts";
import { WsGateway } from "./ws-gateway.ts";

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
