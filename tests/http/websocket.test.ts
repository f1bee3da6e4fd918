import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openSocket, startTestServer, type TestServer } from "../support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { ARAGORA_WS_HEARTBEAT_S: "1", ARAGORA_WS_MAX_MESSAGE_SIZE: "1024" } });
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

for (const which of ["dedicated WS port", "API port"] as const) {
  describe(`/ws on the ${which}`, () => {
    const url = () => (which === "API port" ? server.wsApi : server.ws);

    test("an upgrade without credentials, or with a wrong token, is refused with the JSON 401", async () => {
      const anonymous: Record<string, string>[] = [{}, { authorization: "Bearer wrong-token-0123456789abc" }];
      for (const headers of anonymous) {
        const res = await fetch(url().replace("ws:", "http:"), {
          headers: {
            ...headers,
            upgrade: "websocket",
            connection: "Upgrade",
            "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
            "sec-websocket-version": "13",
          },
        });
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toContain("Bearer");
        expect(((await res.json()) as { error: string }).error).toBe("unauthorized");
      }
      await expect(openSocket(url())).rejects.toThrow("401");
    });

    test("ping is answered with pong and the server time", async () => {
      const c = await server.socket(url());
      c.ws.send(JSON.stringify({ type: "ping" }));
      const pong = await c.next((m) => m.type === "pong");
      expect(typeof pong.server_time).toBe("string");
      expect(Math.abs(Date.parse(String(pong.server_time)) - Date.now())).toBeLessThan(5000);
      c.ws.close();
    });

    test("unknown type, non-JSON and typeless messages get error messages, and the socket stays open", async () => {
      const c = await server.socket(url());
      c.ws.send(JSON.stringify({ type: "launch_missiles" }));
      expect(await c.next((m) => m.type === "error")).toMatchObject({
        code: "unknown_type",
        message: expect.stringContaining("launch_missiles"),
      });
      c.ws.send("this is not json");
      expect(await c.next((m) => m.type === "error")).toMatchObject({ code: "invalid_json" });
      c.ws.send(JSON.stringify({ hello: 1 }));
      expect(await c.next((m) => m.type === "error")).toMatchObject({ code: "invalid_message" });
      c.ws.send(JSON.stringify({ type: "ping" }));
      await c.next((m) => m.type === "pong");
      expect(c.isClosed()).toBe(false);
      c.ws.close();
    });

    test("a message over ARAGORA_WS_MAX_MESSAGE_SIZE closes the socket with 1009", async () => {
      const c = await server.socket(url());
      c.ws.send(JSON.stringify({ type: "ping", padding: "x".repeat(4096) }));
      const closed = await c.closed;
      expect(closed.code).toBe(1009);
    });

    test("heartbeats arrive on the configured interval", async () => {
      const c = await server.socket(url());
      const beat = await c.next((m) => m.type === "heartbeat", 3000);
      expect(beat).toMatchObject({ type: "heartbeat", interval_s: 1, server_time: expect.any(String) });
      c.ws.close();
    });
  });
}

describe("GET /api/ws/stats", () => {
  test("counts connections and messages in and out", async () => {
    const before = (await (await server.fetch(`/api/ws/stats`)).json()) as {
      connections: number;
      messages_in: number;
      messages_out: number;
      topics: Record<string, number>;
      listeners: { api: boolean; dedicated: boolean };
    };
    const c = await server.socket(server.ws);
    c.ws.send(JSON.stringify({ type: "ping" }));
    await c.next((m) => m.type === "pong");
    const after = (await (await server.fetch(`/api/ws/stats`)).json()) as typeof before;
    expect(after.connections).toBe(before.connections + 1);
    expect(after.messages_in).toBeGreaterThanOrEqual(before.messages_in + 1);
    expect(after.messages_out).toBeGreaterThanOrEqual(before.messages_out + 1);
    expect(after.listeners).toEqual({ api: true, dedicated: true });
    expect(after.topics).toEqual({});
    c.ws.close();
    await c.closed;
  });

  test("aragora_websocket_connections follows open sockets", async () => {
    const gauge = async () => {
      const text = await (await server.fetch(`/api/metrics`)).text();
      return Number(/^aragora_websocket_connections (\d+)/m.exec(text)?.[1]);
    };
    const base = await gauge();
    const a = await server.socket(server.ws);
    const b = await server.socket(server.wsApi);
    expect(await gauge()).toBe(base + 2);
    a.ws.close();
    b.ws.close();
    await Promise.all([a.closed, b.closed]);
    await Bun.sleep(20);
    expect(await gauge()).toBe(base);
  });
});
