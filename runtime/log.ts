/**
 * Structured logging: pino JSON lines on stdout. Request and debate ids are bound
 * through child loggers so every line of a request carries its `request_id`.
 *
 * @example
 * const log = createLogger("INFO");
 * log.child({ request_id: "r-1" }).info({ route: "/api/health" }, "request");
 */
import pino, { type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.ts";

export type { Logger };

const PINO_LEVEL: Record<LogLevel, pino.Level> = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warn",
  ERROR: "error",
};

/** Keys whose values are replaced by "[redacted]" wherever they appear in a log line. */
const REDACT = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "headers.cookie",
  "*.password",
  "*.secret",
  "*.token",
  "*.api_key",
  "*.apiKey",
];

/** Level names as operators write them in ARAGORA_LOG_LEVEL (pino's "warn" prints as "WARNING"). */
const LABEL: Record<string, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warn: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

/**
 * Create the process logger at the configured level.
 * Levels print as the words ARAGORA_LOG_LEVEL uses (`"level":"WARNING"`), so `grep` and log
 * shippers need no mapping table.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level: PINO_LEVEL[level],
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: LABEL[label] ?? label.toUpperCase() }) },
      redact: { paths: REDACT, censor: "[redacted]" },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
