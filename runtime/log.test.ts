import { expect, test } from "bun:test";
import { Writable } from "node:stream";
import { createLogger, redactSecrets, requestLineWriter } from "./log.ts";

/** A logger writing into an array of parsed lines. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: createLogger("DEBUG", sink as never), lines };
}

test("secret-named values are redacted at any depth, in records and arrays", async () => {
  const { log, lines } = capture();
  const child = log.child({ request_id: "r-1" });
  child.info(
    {
      password: "hunter2hunter2",
      headers: { authorization: "Bearer eyJ.secret", cookie: "sid=abc", "x-api-key": "ara_live_x" },
      body: { user: { new_password: "p", refresh_token: "ara_rt_1", totp: "123456" } },
      attempts: [{ client_secret: "cs" }, { status: 200 }],
      tokens: 42,
      input_tokens: 7,
    },
    "request",
  );
  await Bun.sleep(10);
  const text = JSON.stringify(lines);
  for (const secret of ["hunter2", "eyJ.secret", "sid=abc", "ara_live_x", "ara_rt_1", "123456", '"cs"'])
    expect(text).not.toContain(secret);
  // biome-ignore lint/suspicious/noExplicitAny: a parsed log line is read by known paths
  const line = lines[0] as Record<string, any>;
  expect(line.password).toBe("[redacted]");
  expect(line.headers.authorization).toBe("[redacted]");
  expect(line.body.user.new_password).toBe("[redacted]");
  expect(line.attempts[0].client_secret).toBe("[redacted]");
  // Counts named like secrets' plurals stay: only the last word of the key decides.
  expect(line.tokens).toBe(42);
  expect(line.input_tokens).toBe(7);
  expect(line.request_id).toBe("r-1");
});

test("a record without secrets is passed through without a copy; errors keep their serializer", () => {
  const record = { status: 200, route: "/api/health", nested: { ok: true } };
  expect(redactSecrets(record)).toBe(record);
  const err = new Error("boom");
  const out = redactSecrets({ err, token: "t" });
  expect(out.err).toBe(err);
  expect(out.token).toBe("[redacted]");
});

test("a request line written directly reads exactly like pino's line for the same fields", async () => {
  const cases: Record<string, string | number | null | undefined>[] = [
    { request_id: "r-1", method: "GET", path: '/api/"x"\n', route: null, status: 200, duration_ms: 0.5 },
    // Absent values are left out; a field named like a binding takes the binding's place.
    { request_id: "r-2", debate_id: undefined, node: "n-2", status: 404 },
    {},
  ];
  for (const level of ["info", "debug"] as const) {
    for (const fields of cases) {
      const { log, lines } = capture();
      const child = log.child({ node: "n-1" });
      child[level](fields, "request");
      requestLineWriter(child)(level, fields);
      await Bun.sleep(10);
      expect(lines.length).toBe(2);
      const [viaPino, direct] = lines.map(
        ({ time, ...rest }): Record<string, unknown> => ({ ...rest, time: typeof time }),
      );
      expect(direct).toEqual(viaPino ?? {});
      expect(Object.keys(direct ?? {})).toEqual(Object.keys(viaPino ?? {}));
    }
  }
});
