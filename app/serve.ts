/**
 * `aragora serve`: run the server until SIGTERM or SIGINT. SIGHUP re-reads the encryption key file
 * (ARAGORA_ENCRYPTION_KEY_FILE); a file that cannot be used is logged and the keys in use stay.
 * A configuration the start finds unusable (the key file, sealed secrets with no key) exits 2,
 * like a bad variable. The first SIGTERM or SIGINT drains
 * gracefully (exit 0); a second one forces the exit (code 130) without waiting. The process exits
 * at most ARAGORA_SHUTDOWN_TIMEOUT_S plus STORE_GRACE_MS (5 s) after the first signal, even when the
 * store cannot write; it exits 1 when debate events could not be written, naming their debates.
 *
 * @example
 * aragora serve --api-port 8080 --ws-port 8765
 * ARAGORA_DATA_DIR=/data/aragora aragora serve --api-port 0   # 0 picks a free port
 */
import { type Command, EXIT, UsageError } from "../runtime/command.ts";
import { ConfigError } from "../runtime/config.ts";
import { createLogger, type Logger } from "../runtime/log.ts";
import { DataDirInUseError } from "../runtime/server-lock.ts";
import { STORE_GRACE_MS } from "../runtime/store/store-health.ts";
import { startServer } from "./server.ts";

/**
 * Run `then` once the log's buffered lines are written (the process exits right after, and the
 * last lines say what was not written), or after a second if the write does not finish.
 *
 * @example flushThen(log, () => process.exit(1));
 */
function flushThen(log: Logger, then: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    then();
  };
  log.flush(() => once());
  setTimeout(once, 1000);
}

function portFlag(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) > 65535)
    throw new UsageError(`${flag} must be an integer 0-65535 (got "${text}")`);
  return text;
}

export const serveCommand: Command = {
  name: "serve",
  summary: "run the HTTP API and WebSocket server",
  usage: "aragora serve [--api-port PORT] [--ws-port PORT] [--host ADDR]",
  options: {
    "api-port": {
      type: "string",
      description: "HTTP API port (overrides ARAGORA_API_PORT, default 8080; 0 = free port)",
    },
    "ws-port": {
      type: "string",
      description: "WebSocket port (overrides ARAGORA_WS_PORT, default 8765; 0 = free port)",
    },
    host: { type: "string", description: "bind address (overrides ARAGORA_HOST, default 0.0.0.0)" },
  },
  details:
    "Signals: SIGHUP re-reads the encryption key file (ARAGORA_ENCRYPTION_KEY_FILE); SIGTERM/SIGINT drain gracefully (ARAGORA_SHUTDOWN_TIMEOUT_S, default 30, plus at most 5 s for a store that cannot write) and exit 0, or 1 when debate events could not be written; a second signal forces exit.",
  async run({ values, config: load }) {
    const config = load({
      ARAGORA_API_PORT: portFlag(values["api-port"], "--api-port"),
      ARAGORA_WS_PORT: portFlag(values["ws-port"], "--ws-port"),
      ARAGORA_HOST: values.host === undefined ? undefined : String(values.host),
    });
    const log = createLogger(config.logLevel);

    // Held from the first moment: a SIGHUP's default action would end the process. One that comes
    // while the server starts is served once it runs (the keys it read may predate it).
    let reloadKeys: (() => void) | undefined;
    let hupWhileStarting = false;
    const onHup = () => {
      if (reloadKeys === undefined) hupWhileStarting = true;
      else reloadKeys();
    };
    process.on("SIGHUP", onHup);

    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer({ config, log });
    } catch (err) {
      process.off("SIGHUP", onHup);
      if (err instanceof ConfigError) {
        log.fatal({ problems: err.problems }, "server refused to start: invalid configuration");
        log.flush();
        process.stderr.write(`aragora: ${err.message}\n`);
        return EXIT.usage;
      }
      const message =
        err instanceof DataDirInUseError
          ? err.message
          : (err as NodeJS.ErrnoException).code === "EADDRINUSE"
            ? `a port is already in use: ${(err as Error).message}`
            : (err as Error).message;
      log.fatal({ err }, "server failed to start");
      log.flush();
      process.stderr.write(`aragora serve: ${message}\n`);
      return EXIT.failure;
    }

    reloadKeys = () => void server.reloadKeys("sighup");
    if (hupWhileStarting) reloadKeys();

    return new Promise<number>((resolveExit) => {
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        // Still held while the server stops (its default action would end the process), ignored.
        reloadKeys = () => log.info("SIGHUP ignored: the server is stopping");
        signals++;
        if (signals > 1) {
          log.warn({ signal }, "second signal: forcing exit");
          log.flush();
          process.exit(130);
        }
        // The bound on shutdown: past it the process exits whatever is still waiting (a store that
        // stopped answering, a write retried forever), saying what was not written.
        const boundMs = config.shutdownTimeoutSeconds * 1000 + STORE_GRACE_MS;
        const watchdog = setTimeout(() => {
          const unwritten = server.storeHealth.unwritten();
          log.error(
            {
              bound_ms: boundMs,
              unwritten_events: unwritten.events,
              unwritten_debate_ids: unwritten.debateIds,
            },
            `shutdown did not finish within ${boundMs} ms; exiting with ${unwritten.events} debate events not written`,
          );
          flushThen(log, () => process.exit(EXIT.failure));
        }, boundMs);
        server.shutdown(signal).then(
          () => {
            clearTimeout(watchdog);
            const unwritten = server.storeHealth.unwritten();
            flushThen(log, () => resolveExit(unwritten.events > 0 ? EXIT.failure : EXIT.ok));
          },
          (err) => {
            clearTimeout(watchdog);
            log.error({ err }, "shutdown failed");
            flushThen(log, () => resolveExit(EXIT.failure));
          },
        );
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    });
  },
};
