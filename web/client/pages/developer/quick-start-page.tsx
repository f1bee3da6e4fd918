/**
 * The quick start: copy-paste examples (curl and TypeScript) for starting a debate and following
 * it over the WebSocket, written for this server's own address, and the links to the API's
 * documentation (the Swagger UI and its OpenAPI document).
 */
import { CopyButton, DeveloperNav } from "./developer-nav.tsx";
import { curlExample, typescriptExample } from "./examples.ts";

function Example({ title, code, id }: { title: string; code: string; id: string }) {
  return (
    <>
      <h2 id={id}>{title}</h2>
      <pre class="example">
        <code>{code}</code>
      </pre>
      <p>
        <CopyButton text={code} label={`Copy the ${title} example`} />
      </p>
    </>
  );
}

export default function QuickStartPage() {
  const origin = location.origin;
  return (
    <section class="developer">
      <h1>Quick start</h1>
      <DeveloperNav />
      <p>
        Make an API key on the <a href="/developer">API keys</a> page, then start a debate and watch its agents' tokens
        arrive. Every route, its parameters and its answers are in the <a href="/swagger">Swagger UI</a> (OpenAPI:{" "}
        <a href="/swagger/json">/swagger/json</a>).
      </p>
      <Example id="example-curl" title="curl" code={curlExample(origin)} />
      <Example id="example-typescript" title="TypeScript" code={typescriptExample(origin)} />
      <p class="muted">
        The TypeScript runs as it is in Bun or Node 22+ (save it as <code>debate.ts</code>, then{" "}
        <code>ARAGORA_API_KEY=ara_live_... bun debate.ts</code>).
      </p>
    </section>
  );
}
