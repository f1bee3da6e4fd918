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
import { LogWriter } from "./log-writer.ts";

export type { Logger };

const PINO_LEVEL: Record<LogLevel, pino.Level> = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warn",
  ERROR: "error",
};

/**
 * Keys whose values never reach a log line, at any depth: credentials, tokens, cookies, keys,
 * one-time codes. Matched on the key's last word, so `refresh_token`, `client_secret`,
 * `X-Api-Key` and `setup_token` are covered along with the bare names.
 */
const SECRET_KEY =
  /(?:^|[_\-.])(?:authorization|cookie|password|passwd|secret|token|api[_-]?key|ticket|code_verifier|recovery_codes?|totp)$/i;

const CENSOR = "[redacted]";
const MAX_DEPTH = 6;

function scrub(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const clean = scrub(item, depth + 1);
      if (clean === item) continue;
      copy ??= Array.from(value);
      copy[i] = clean;
    }
    return copy ?? value;
  }
  // Errors, Dates, Buffers go to pino's serializers as they are; only plain records are walked.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    const item = record[key];
    const clean = SECRET_KEY.test(key) && item !== undefined && item !== null ? CENSOR : scrub(item, depth + 1);
    if (clean === item) continue;
    copy ??= { ...record };
    copy[key] = clean;
  }
  return copy ?? record;
}

/**
 * A log record with every secret-named value replaced by "[redacted]", at any depth; the record
 * itself when it holds none (the common case costs one pass over its keys, no copy).
 * pino's own `redact` re-parses its path list on every line (a tenth of a request's CPU,
 * bench/http.ts) and only reaches the depths it is told.
 *
 * @example
 * redactSecrets({ headers: { authorization: "Bearer x" }, status: 401 })
 * // { headers: { authorization: "[redacted]" }, status: 401 }
 */
export function redactSecrets<T extends Record<string, unknown>>(record: T): T {
  return scrub(record, 0) as T;
}

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
      formatters: {
        level: (label) => ({ level: LABEL[label] ?? label.toUpperCase() }),
        // Child loggers' bindings (request and debate ids) are ours and carry no secrets.
        log: redactSecrets,
      },
    },
    destination ?? new LogWriter(1),
  );
}

/** The fields of one request's log line (runtime/http/app.ts), all the server's own: no secrets. */
export type RequestLine = Record<string, string | number | null | undefined>;

/**
 * A writer of request lines in exactly the format of `log`'s lines (level word, ISO time, pid, the
 * logger's bindings, the fields, `"msg":"request"`), written straight to its destination. Every
 * request logs one line; through pino's `log.info(fields, msg)` that line cost more than the route
 * it described (its per-key serialisation, traced through diagnostics_channel, and a redaction pass
 * these fields never need: bench/http.ts). Here the part that never changes (pid, bindings) is
 * serialised once, the time once per millisecond, and the fields in one JSON.stringify, so a line
 * is one string built by concatenation. The caller still asks `log.isLevelEnabled` first, so a
 * level changed at run time applies.
 *
 * @example
 * const writeRequest = requestLineWriter(log);
 * if (log.isLevelEnabled("info")) writeRequest("info", { request_id: id, status: 200 });
 */
export function requestLineWriter(log: Logger): (level: "debug" | "info", fields: RequestLine) => void {
  const destination = (log as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  const bound = log.bindings();
  const pid = process.pid;
  /** The line as an object, as pino would order it: for fields that reuse a name the line already has. */
  const asObject = (level: "debug" | "info", time: string, fields: RequestLine) =>
    `${JSON.stringify({ level: level === "info" ? "INFO" : "DEBUG", time, pid, ...bound, ...fields, msg: "request" })}\n`;
  const taken = ["level", "time", "pid", "msg", ...Object.keys(bound)];
  // `,"pid":1,"node":"n-1"`: what follows the time on every line.
  const after = `,${JSON.stringify({ pid, ...bound }).slice(1, -1)}`;
  let lastMs = Number.NaN;
  let lastTime = "";
  return (level, fields) => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastTime = new Date(now).toISOString();
    }
    for (const name of taken) {
      if (name in fields) {
        destination?.write(asObject(level, lastTime, fields));
        return;
      }
    }
    const own = JSON.stringify(fields);
    const head = level === "info" ? '{"level":"INFO","time":"' : '{"level":"DEBUG","time":"';
    destination?.write(`${head}${lastTime}"${after}${own.length > 2 ? `,${own.slice(1, -1)}` : ""},"msg":"request"}\n`);
  };
}
