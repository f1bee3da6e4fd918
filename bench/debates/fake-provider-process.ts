/**
 * The fake provider server (tests/fake-provider) in a process of its own, for the concurrency
 * benchmark: every reply streams its tokens `tokenDelayMs` apart (argv[2], default 50). Prints one
 * JSON line `{"env":{...}}` (the variables that point a server at it) and serves until stdin closes.
 *
 * @example
 * const child = Bun.spawn([process.execPath, "bench/debates/fake-provider-process.ts", "50"], { stdin: "pipe", stdout: "pipe" });
 */
import { startFakeProvider } from "../../tests/fake-provider/index.ts";

const tokenDelayMs = Number(process.argv[2] ?? 50);
const fake = await startFakeProvider();
fake.setDefault({ tokenDelayMs });
process.stdout.write(`${JSON.stringify({ env: fake.env() })}\n`);
// Requests are recorded for tests; a benchmark sends tens of thousands, so forget them as they come.
const forget = setInterval(() => fake.requests.splice(0), 1000);
for await (const _ of Bun.stdin.stream()) {
  // Closing stdin (the parent exiting) ends the process.
}
clearInterval(forget);
await fake.stop();
process.exit(0);
