/**
 * A fake LLM provider: a real HTTP server speaking the three streaming wire protocols the agents
 * use — OpenAI chat-completions SSE (also OpenRouter, Mistral, xAI and local servers), Anthropic
 * Messages SSE and Gemini streamGenerateContent SSE — with every fault a production provider
 * shows. Tests script the next replies per provider and model, point the server at it with the
 * *_BASE_URL variables ({@link FakeProvider.env}) and read back what it received.
 *
 * Routing: the first path segment names the provider (`/anthropic/v1/messages`,
 * `/openrouter/v1/chat/completions`, `/gemini/v1beta/models/<model>:streamGenerateContent`);
 * the path's end picks the protocol.
 *
 * @example
 * const fake = await startFakeProvider();
 * fake.script({ provider: "anthropic" }, { status: 429, headers: { "retry-after": "2" } }, { text: "Hello" });
 * const server = await startTestServer({ env: fake.env() });
 * ... run turns ...
 * expect(fake.requests.filter((r) => r.provider === "anthropic")).toHaveLength(2);
 * await fake.stop();
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Protocol = "openai" | "anthropic" | "gemini";

export interface FakeUsage {
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
  reasoning?: number;
}

/** One scripted reply. Without `status` it is a 200 stream; with one, an error response. */
export interface FakeReply {
  /** The streamed text; default: a short reply naming the provider and model, with multi-byte characters. */
  text?: string;
  /** Explicit token split of the text (default: words with their trailing space). */
  tokens?: string[];
  /** Delay before each token event. */
  tokenDelayMs?: number;
  /** Write the stream in raw slices of this many bytes, splitting UTF-8 sequences and JSON mid-way. */
  chunkBytes?: number;
  /** End lines with CRLF instead of LF. */
  crlf?: boolean;
  /** Send SSE comment lines (": keep-alive") between events. */
  keepAlive?: boolean;
  /** Split each event's JSON over two `data:` lines. */
  multiLineData?: boolean;
  /** Token counts to report; false sends no usage at all. Default: derived from the text. */
  usage?: FakeUsage | false;
  /** OpenRouter's reported cost (usage.cost) in US dollars; OpenAI protocol only. */
  cost?: number;
  /** Send an error event inside the 200 stream after this many tokens. */
  errorAfterTokens?: number;
  /** The error of that event (default per protocol: overloaded / server error). */
  streamError?: { type: string; message: string; code?: number };
  /** Destroy the connection after this many tokens (and a pause, default 100 ms, so they are read first). */
  dropAfterTokens?: number;
  dropPauseMs?: number;
  /**
   * With dropAfterTokens: drop only once this settles too. The pause is a guess that fails under
   * CPU load (the client's stream error overtakes tokens it has not read yet); a test that waits
   * until the client has shown those tokens makes the drop happen after them every time.
   */
  dropWhen?: Promise<unknown>;
  /** Reply with this HTTP status and an error body instead of a stream. */
  status?: number;
  headers?: Record<string, string>;
  /** Overrides the protocol's error body. */
  errorBody?: unknown;
  /** Delay before the response head is sent. */
  delayMs?: number;
  /** Hold the response head until this settles: a test releases a turn once it saw what it waits for. */
  until?: Promise<unknown>;
}

export interface RecordedRequest {
  provider: string;
  protocol: Protocol;
  model: string;
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  at: number;
  /** The reply used: a scripted one, or the default. */
  scripted: boolean;
}

export interface FakeProvider {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Base URL of one provider on this server, as the *_BASE_URL variables expect it. */
  baseUrl(provider: string): string;
  /**
   * Environment pointing every provider at this server with test keys set (OPENROUTER only when
   * `openrouter` is true), plus `ARAGORA_LOCAL_MODELS` for `local` names.
   */
  env(options?: { openrouter?: boolean; providers?: string[]; local?: Record<string, string> }): Record<string, string>;
  /** Queue replies for requests matching provider and/or model; consumed first in, first out. */
  script(match: { provider?: string; model?: string }, ...replies: FakeReply[]): void;
  /** The reply used when nothing scripted matches (default: a plain successful stream). */
  setDefault(reply: FakeReply): void;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];
  /** Scripted replies not used yet. */
  pending(): number;
  /** Forget scripts, recorded requests and the default. */
  reset(): void;
  stop(): Promise<void>;
}

export const TEST_KEYS: Record<string, string> = {
  anthropic: "sk-ant-test-0123456789",
  openai: "sk-openai-test-0123456789",
  openrouter: "sk-or-test-0123456789",
  mistral: "mistral-test-0123456789",
  gemini: "gemini-test-0123456789",
  xai: "xai-test-0123456789",
};
const ENV_PREFIX: Record<string, string> = {
  anthropic: "ANTHROPIC",
  openai: "OPENAI",
  openrouter: "OPENROUTER",
  mistral: "MISTRAL",
  gemini: "GEMINI",
  xai: "XAI",
};

/**
 * Starts the fake on a free port of 127.0.0.1.
 *
 * @example
 * const fake = await startFakeProvider();
 */
export async function startFakeProvider(): Promise<FakeProvider> {
  const queues: Array<{ match: { provider?: string; model?: string }; replies: FakeReply[] }> = [];
  const requests: RecordedRequest[] = [];
  let fallbackReply: FakeReply = {};
  const sockets = new Set<import("node:net").Socket>();

  const take = (provider: string, model: string): FakeReply | undefined => {
    for (const q of queues) {
      if (q.replies.length === 0) continue;
      if (q.match.provider !== undefined && q.match.provider !== provider) continue;
      if (q.match.model !== undefined && q.match.model !== model) continue;
      return q.replies.shift();
    }
    return undefined;
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://fake");
    const provider = url.pathname.split("/")[1] ?? "";
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    } catch {}
    const protocol: Protocol | undefined = url.pathname.endsWith("/chat/completions")
      ? "openai"
      : url.pathname.endsWith("/messages")
        ? "anthropic"
        : url.pathname.includes(":streamGenerateContent")
          ? "gemini"
          : undefined;
    if (protocol === undefined) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"no such endpoint"}');
      return;
    }
    const model =
      protocol === "gemini"
        ? decodeURIComponent(/models\/([^:]+):/.exec(url.pathname)?.[1] ?? "")
        : String(body.model ?? "");
    const scripted = take(provider, model);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    requests.push({
      provider,
      protocol,
      model,
      path: url.pathname,
      headers,
      body,
      at: Date.now(),
      scripted: !!scripted,
    });
    const reply = scripted ?? fallbackReply;
    if (reply.delayMs) await wait(reply.delayMs);
    if (reply.until) await reply.until.catch(() => undefined);
    if (reply.status !== undefined && reply.status !== 200) {
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
      res.end(JSON.stringify(reply.errorBody ?? errorBody(protocol, provider, reply.status)));
      return;
    }
    await stream(res, protocol, provider, model, reply);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const baseUrl = (provider: string) => `${url}/${provider}/${provider === "gemini" ? "v1beta" : "v1"}`;

  return {
    url,
    baseUrl,
    env(options = {}) {
      const env: Record<string, string> = {};
      const providers = options.providers ?? ["anthropic", "openai", "mistral", "gemini", "xai"];
      for (const p of [...providers, ...(options.openrouter ? ["openrouter"] : [])]) {
        const prefix = ENV_PREFIX[p];
        if (prefix === undefined) continue;
        env[`${prefix}_API_KEY`] = TEST_KEYS[p] as string;
        env[`${prefix}_BASE_URL`] = baseUrl(p);
      }
      if (!options.openrouter) env.OPENROUTER_BASE_URL = baseUrl("openrouter");
      if (options.local) {
        env.ARAGORA_LOCAL_MODELS = Object.entries(options.local)
          .map(([name, model]) => `${name}=${baseUrl(name)}|${model}`)
          .join(",");
      }
      return env;
    },
    script(match, ...replies) {
      queues.push({ match, replies: [...replies] });
    },
    setDefault(reply) {
      fallbackReply = reply;
    },
    requests,
    pending: () => queues.reduce((n, q) => n + q.replies.length, 0),
    reset() {
      queues.length = 0;
      requests.length = 0;
      fallbackReply = {};
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function defaultText(provider: string, model: string): string {
  return `Fake reply from ${provider}:${model} — naïve café ✓ 🙂 done.`;
}

function tokensOf(reply: FakeReply, text: string): string[] {
  return reply.tokens ?? text.match(/\S+\s*/g) ?? [text];
}

function usageOf(reply: FakeReply, text: string, tokens: string[]): FakeUsage | undefined {
  if (reply.usage === false) return undefined;
  return reply.usage ?? { input: 12, output: tokens.length || Math.ceil(text.length / 4) };
}

/** The SSE events of one reply, as (event name, JSON payload) pairs, plus where faults cut in. */
type Event = { name?: string; data: unknown; token?: boolean } | { done: true };

function eventsFor(
  protocol: Protocol,
  flavour: string,
  model: string,
  reply: FakeReply,
  tokens: string[],
  usage: FakeUsage | undefined,
) {
  const events: Event[] = [];
  if (protocol === "anthropic") {
    events.push({
      name: "message_start",
      data: {
        type: "message_start",
        message: {
          id: "msg_fake",
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: usage?.input ?? 0,
            // Anthropic reports a running output count here and again, cumulatively, in message_delta.
            output_tokens: usage === undefined ? 0 : 1,
            cache_creation_input_tokens: usage?.cacheWrite ?? 0,
            cache_read_input_tokens: usage?.cacheRead ?? 0,
          },
        },
      },
    });
    events.push({
      name: "content_block_start",
      data: { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    });
    events.push({ name: "ping", data: { type: "ping" } });
    tokens.forEach((t, i) => {
      events.push({
        name: "content_block_delta",
        data: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } },
        token: true,
      });
      if (usage !== undefined && i === Math.floor(tokens.length / 2)) {
        // A mid-stream cumulative count: summing instead of replacing would double-count.
        events.push({
          name: "message_delta",
          data: {
            type: "message_delta",
            delta: { stop_reason: null, stop_sequence: null },
            usage: { output_tokens: Math.max(1, Math.floor(usage.output / 2)) },
          },
        });
      }
    });
    events.push({ name: "content_block_stop", data: { type: "content_block_stop", index: 0 } });
    events.push({
      name: "message_delta",
      data: {
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { output_tokens: usage?.output ?? 0 },
      },
    });
    events.push({ name: "message_stop", data: { type: "message_stop" } });
    return events;
  }
  if (protocol === "openai") {
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id: "chatcmpl-fake",
      object: "chat.completion.chunk",
      created: 1_790_000_000,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    tokens.forEach((t, i) => {
      events.push({ data: chunk(i === 0 ? { role: "assistant", content: t } : { content: t }, null), token: true });
    });
    // OpenAI sends usage in an extra chunk with no choices; Mistral puts it on the finishing chunk.
    const usageOnFinish = flavour === "mistral";
    if (!usageOnFinish || usage === undefined) events.push({ data: chunk({}, "stop") });
    if (usage !== undefined) {
      events.push({
        data: {
          id: "chatcmpl-fake",
          object: "chat.completion.chunk",
          created: 1_790_000_000,
          model,
          choices: usageOnFinish ? [{ index: 0, delta: {}, finish_reason: "stop" }] : [],
          usage: {
            prompt_tokens: usage.input,
            completion_tokens: usage.output,
            total_tokens: usage.input + usage.output,
            prompt_tokens_details: { cached_tokens: usage.cacheRead ?? 0 },
            completion_tokens_details: { reasoning_tokens: usage.reasoning ?? 0 },
            ...(reply.cost !== undefined ? { cost: reply.cost } : {}),
          },
        },
      });
    }
    events.push({ done: true });
    return events;
  }
  tokens.forEach((t, i) => {
    const last = i === tokens.length - 1;
    events.push({
      data: {
        candidates: [
          { content: { parts: [{ text: t }], role: "model" }, index: 0, ...(last ? { finishReason: "STOP" } : {}) },
        ],
        modelVersion: model,
        ...(last && usage !== undefined
          ? {
              usageMetadata: {
                promptTokenCount: usage.input,
                candidatesTokenCount: usage.output - (usage.reasoning ?? 0),
                totalTokenCount: usage.input + usage.output,
                cachedContentTokenCount: usage.cacheRead ?? 0,
                thoughtsTokenCount: usage.reasoning ?? 0,
              },
            }
          : {}),
      },
      token: true,
    });
  });
  return events;
}

function streamErrorEvent(protocol: Protocol, reply: FakeReply): Event {
  const e = reply.streamError;
  if (protocol === "anthropic") {
    return {
      name: "error",
      data: { type: "error", error: { type: e?.type ?? "overloaded_error", message: e?.message ?? "Overloaded" } },
    };
  }
  if (protocol === "openai") {
    return {
      data: {
        error: {
          message: e?.message ?? "The server had an error",
          type: e?.type ?? "server_error",
          code: e?.code ?? null,
        },
      },
    };
  }
  return {
    data: { error: { code: e?.code ?? 500, message: e?.message ?? "Internal error", status: e?.type ?? "INTERNAL" } },
  };
}

async function stream(res: ServerResponse, protocol: Protocol, provider: string, model: string, reply: FakeReply) {
  const text = reply.text ?? defaultText(provider, model);
  const tokens = tokensOf(reply, text);
  const usage = usageOf(reply, text, tokens);
  const events = eventsFor(protocol, provider, model, reply, tokens, usage);
  const nl = reply.crlf ? "\r\n" : "\n";
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...reply.headers });
  res.flushHeaders();
  const encode = (event: Event): string => {
    if ("done" in event) return `data: [DONE]${nl}${nl}`;
    const json = JSON.stringify(event.data);
    let data: string;
    if (reply.multiLineData) {
      // SSE joins multi-line data with "\n"; splitting after a comma between values (never one
      // inside a string, where a raw newline would be invalid JSON) keeps the JSON valid.
      const cut = structuralComma(json) + 1;
      data = cut > 0 ? `data: ${json.slice(0, cut)}${nl}data: ${json.slice(cut)}${nl}` : `data: ${json}${nl}`;
    } else {
      data = `data: ${json}${nl}`;
    }
    return `${event.name ? `event: ${event.name}${nl}` : ""}${data}${nl}`;
  };
  // Each write waits until it is handed to the socket, so a later drop cuts after it, not before.
  const flush = (bytes: Uint8Array) => new Promise<void>((resolve) => res.write(bytes, () => resolve()));
  const write = async (text: string) => {
    const bytes = Buffer.from(text, "utf8");
    const size = reply.chunkBytes ?? bytes.length;
    for (let i = 0; i < bytes.length; i += size) await flush(bytes.subarray(i, i + size));
  };
  let sentTokens = 0;
  for (const event of events) {
    if ("token" in event && event.token) {
      if (reply.errorAfterTokens !== undefined && sentTokens >= reply.errorAfterTokens) {
        await write(encode(streamErrorEvent(protocol, reply)));
        res.end();
        return;
      }
      if (reply.dropAfterTokens !== undefined && sentTokens >= reply.dropAfterTokens) {
        // A real connection dies some time after its last bytes; without the pause the client's
        // stream error would overtake the tokens still queued in its pipeline.
        await wait(reply.dropPauseMs ?? 100);
        if (reply.dropWhen) await reply.dropWhen.catch(() => undefined);
        res.socket?.destroy();
        return;
      }
      if (reply.tokenDelayMs) await wait(reply.tokenDelayMs);
      sentTokens++;
    }
    if (reply.keepAlive) await write(`: keep-alive${nl}${nl}`);
    await write(encode(event));
  }
  res.end();
}

/** Index of the first comma outside a JSON string, or -1. */
function structuralComma(json: string): number {
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === ",") return i;
  }
  return -1;
}

function errorBody(protocol: Protocol, provider: string, status: number): unknown {
  const message =
    status === 429
      ? "Rate limit exceeded"
      : status === 402
        ? "Insufficient credits: your quota is exhausted"
        : status === 529
          ? "Overloaded"
          : `Upstream error ${status}`;
  if (protocol === "anthropic") {
    const type =
      status === 429
        ? "rate_limit_error"
        : status === 529
          ? "overloaded_error"
          : status === 402
            ? "billing_error"
            : "api_error";
    return { type: "error", error: { type, message } };
  }
  if (provider === "mistral")
    return { object: "error", message, type: status === 429 ? "rate_limited" : "api_error", code: String(status) };
  if (protocol === "openai") {
    const type = status === 429 ? "rate_limit_exceeded" : status === 402 ? "insufficient_quota" : "server_error";
    return { error: { message, type, code: type } };
  }
  const statusName = status === 429 ? "RESOURCE_EXHAUSTED" : status === 402 ? "FAILED_PRECONDITION" : "INTERNAL";
  return { error: { code: status, message, status: statusName } };
}
