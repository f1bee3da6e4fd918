/**
 * The floor of bench/http.ts's authenticated rows: the server as `aragora serve` runs it (the same
 * startServer, features, routes, permission checks, organisation scoping, logs and metrics; its
 * configuration from the environment), with authentication off: every request is the principal
 * given as JSON in the first argument, without reading a credential. Measured beside the real
 * server answering the same route for that principal's access token or API key, the ratio is what
 * finding the caller costs. SIGTERM shuts it down.
 *
 * @example
 * ARAGORA_DATA_DIR=/tmp/copy ARAGORA_API_PORT=18083 bun bench/serve-auth-off.ts \
 *   '{"kind":"user","userId":"u-1","orgId":"o-1","workspaceId":"w-1","roles":["owner"],"via":"bearer"}'
 */
import { startServer } from "../app/server.ts";
import { loadConfig } from "../runtime/config.ts";
import type { Principal } from "../runtime/http/principal.ts";
import { createLogger } from "../runtime/log.ts";

const principal: Principal = Object.freeze(JSON.parse(process.argv[2] as string) as Principal);
const config = loadConfig();
const log = createLogger(config.logLevel);
const server = await startServer({ config, log, authenticator: { authenticate: () => principal } });
process.once("SIGTERM", () => {
  server.shutdown("SIGTERM").then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
