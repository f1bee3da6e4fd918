/**
 * The quick start's copy-paste examples, written for the server the page came from: start a
 * debate and follow it live over the WebSocket, with curl (and wscat) and with TypeScript (Bun,
 * Node 22+ or a browser). An API key is read from `ARAGORA_API_KEY`; a WebSocket, which cannot
 * always send headers, is opened with a single-use ticket (POST /api/auth/ws-ticket).
 *
 * @example
 * curlExample("https://aragora.example.com"); // "export ARAGORA_URL=https://aragora.example.com\n..."
 */

/** `https://host` -> `wss://host`, `http://host` -> `ws://host`. */
export function socketOrigin(origin: string): string {
  return origin.replace(/^http/, "ws");
}

const QUESTION = "Should we adopt a four-day week?";
const AGENTS = ["demo:alice", "demo:bob", "demo:carol"];

/** Shell: start a debate with curl, then watch it with wscat. */
export function curlExample(origin: string): string {
  const body = JSON.stringify({ question: QUESTION, agents: AGENTS, rounds: 2 });
  return [
    `export ARAGORA_URL=${origin}`,
    "export ARAGORA_API_KEY=ara_live_...   # made on the API keys page",
    "",
    '# Start a debate: 201 {"debate_id":"d-...","status":"running","ws_topic":"debate:d-..."}',
    `curl -sS -X POST "$ARAGORA_URL/api/debates" \\`,
    `  -H "Authorization: Bearer $ARAGORA_API_KEY" -H 'content-type: application/json' \\`,
    `  -d '${body}'`,
    "",
    "# Its events so far (the same ones the WebSocket streams), and the debate when it is done",
    `curl -sS -H "Authorization: Bearer $ARAGORA_API_KEY" "$ARAGORA_URL/api/debates/d-.../events?since_seq=0"`,
    `curl -sS -H "Authorization: Bearer $ARAGORA_API_KEY" "$ARAGORA_URL/api/debates/d-..."`,
    "",
    '# Follow it live, then send: {"type":"subscribe","debate_id":"d-...","since_seq":0}',
    `wscat -H "Authorization: Bearer $ARAGORA_API_KEY" -c ${socketOrigin(origin)}/ws`,
  ].join("\n");
}

/** TypeScript: start a debate with fetch and follow it over the WebSocket until it ends. */
export function typescriptExample(origin: string): string {
  return `const ARAGORA_URL = ${JSON.stringify(origin)};
const headers = {
  authorization: \`Bearer \${process.env.ARAGORA_API_KEY}\`,
  "content-type": "application/json",
};

// Start a debate.
const started = await fetch(\`\${ARAGORA_URL}/api/debates\`, {
  method: "POST",
  headers,
  body: JSON.stringify({ question: ${JSON.stringify(QUESTION)}, agents: ${JSON.stringify(AGENTS)}, rounds: 2 }),
});
if (!started.ok) throw new Error(\`POST /api/debates: \${started.status} \${await started.text()}\`);
const { debate_id } = (await started.json()) as { debate_id: string };

// A single-use ticket opens the WebSocket (a browser cannot send headers there).
const { ticket } = (await (await fetch(\`\${ARAGORA_URL}/api/auth/ws-ticket\`, { method: "POST", headers })).json()) as {
  ticket: string;
};
const ws = new WebSocket(\`${socketOrigin(origin)}/ws?ticket=\${ticket}\`);

// Every event has a seq: after a dropped connection, subscribe again with since_seq = the last one seen.
let lastSeq = 0;
ws.onopen = () => ws.send(JSON.stringify({ type: "subscribe", debate_id, since_seq: lastSeq }));
ws.onmessage = (message) => {
  const event = JSON.parse(String(message.data));
  if (typeof event.seq === "number") lastSeq = event.seq;
  if (event.type === "token") process.stdout.write(event.data.text);
  else console.log(\`\\n[\${event.type}]\`, event.agent ?? "", event.round ?? "");
  if (event.type === "debate_end") {
    console.log("status:", event.data.status);
    ws.close();
  }
};
`;
}
