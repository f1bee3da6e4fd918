import { describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { startTestServer } from "../support/server.ts";

const TOKEN = "shutdown-test-token-0123456789";

/** Start a PUT whose body arrives later: the request is in flight until `finish()` sends the rest. */
async function slowRequest(port: number) {
  const body = JSON.stringify({ level: "INFO" });
  const socket: Socket = connect(port, "127.0.0.1");
  await new Promise<void>((r) => socket.once("connect", () => r()));
  let response = "";
  socket.on("data", (d) => {
    response += d.toString();
  });
  const ended = new Promise<void>((r) => socket.once("close", () => r()));
  socket.write(
    `PUT /api/admin/log-level HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
  );
  return {
    finish: async () => {
      socket.write(body.slice(5));
      await ended;
      return response;
    },
    socket,
  };
}

describe("graceful shutdown", () => {
  test("SIGTERM during a slow request: health says draining (503), the request completes, exit 0", async () => {
    const server = await startTestServer({ env: { ARAGORA_API_TOKEN: TOKEN } });
    const watcher = await server.socket(server.ws);
    const req = await slowRequest(server.apiPort);
    await Bun.sleep(100);
    server.signal("SIGTERM");
    await server.waitForLog((l) => l.msg === "draining");

    const health = await server.fetch(`/api/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as Record<string, unknown>).status).toBe("draining");
    const refused = await fetch(`${server.api}/api/admin/log-level`, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ level: "INFO" }),
    });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as Record<string, unknown>).error).toBe("draining");

    const response = await req.finish();
    expect(response).toStartWith("HTTP/1.1 200");
    expect(response).toContain('{"level":"INFO"}');

    const closed = await watcher.closed;
    expect(closed.code).toBe(1001);
    expect(await server.exited).toBe(0);
    expect(server.logs().some((l) => l.msg === "stopped")).toBe(true);
    await server.stop();
  });

  test("ARAGORA_SHUTDOWN_TIMEOUT_S bounds the wait for a request that never finishes", async () => {
    const server = await startTestServer({ env: { ARAGORA_API_TOKEN: TOKEN, ARAGORA_SHUTDOWN_TIMEOUT_S: "1" } });
    const req = await slowRequest(server.apiPort);
    await Bun.sleep(100);
    const t0 = Date.now();
    server.signal("SIGTERM");
    expect(await server.exited).toBe(0);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(5000);
    expect(server.logs().some((l) => String(l.msg).startsWith("shutdown timeout reached"))).toBe(true);
    req.socket.destroy();
    await server.stop();
  });

  test("a second signal forces the exit at once", async () => {
    const server = await startTestServer({ env: { ARAGORA_API_TOKEN: TOKEN, ARAGORA_SHUTDOWN_TIMEOUT_S: "60" } });
    const req = await slowRequest(server.apiPort);
    await Bun.sleep(100);
    server.signal("SIGTERM");
    await server.waitForLog((l) => l.msg === "draining");
    const t0 = Date.now();
    server.signal("SIGINT");
    const code = await server.exited;
    expect(code).toBe(130);
    expect(Date.now() - t0).toBeLessThan(2000);
    req.socket.destroy();
    await server.stop();
  });

  test("the node is recorded as stopped and the data dir lock is released", async () => {
    const server = await startTestServer({ keepDataDir: true });
    expect(await Bun.file(`${server.dataDir}/server.json`).exists()).toBe(true);
    expect(await server.stop()).toBe(0);
    expect(await Bun.file(`${server.dataDir}/server.json`).exists()).toBe(false);
    const again = await startTestServer({ dataDir: server.dataDir });
    expect(await again.stop()).toBe(0);
  });
});
