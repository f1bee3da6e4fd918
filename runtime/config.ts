/**
 * Every environment variable the server reads, parsed once with arktype.
 *
 * Nothing else in the code base reads `process.env`: callers receive a typed
 * {@link Config}. A bad value is a {@link ConfigError} naming the variable,
 * what is wrong and the expected form; the CLI turns it into exit code 2.
 *
 * @example
 * const config = loadConfig({ ARAGORA_API_PORT: "9000" });
 * config.apiPort; // 9000
 */
import { type Type, type } from "arktype";

export type LogLevel = "DEBUG" | "INFO" | "WARNING" | "ERROR";
export type Environment = "development" | "production" | "test";

export interface Config {
  env: Environment;
  dataDir: string;
  host: string;
  apiPort: number;
  wsPort: number;
  logLevel: LogLevel;
  allowedOrigins: string[];
  apiToken: string | undefined;
  jwtSecret: string | undefined;
  jwtExpiryHours: number;
  refreshTokenExpiryDays: number;
  maxBodyBytes: number;
  wsMaxMessageSize: number;
  wsHeartbeatSeconds: number;
  shutdownTimeoutSeconds: number;
  databaseUrl: string | undefined;
  dbPoolSize: number;
  dbPoolTimeoutSeconds: number;
  sqliteBusyTimeoutMs: number;
  actorMailboxLimit: number;
  // --- providers and agents (issue 4) ---
  // --- debates, receipts, leaderboard (issue 4) ---
  // --- ops playbooks, backups, schedulers (issue 5) ---
}

/** One documented variable: its parser, default and the form an operator should write. */
export interface VariableSpec {
  name: string;
  key: keyof Config;
  description: string;
  expected: string;
  default: string | undefined;
  /** Secret values are never echoed in errors or logs. */
  secret?: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: each spec parses to its own field type
  parse: Type<(input: string) => any> | Type<any>;
}

const port = type("string.integer.parse").pipe(type("0 <= number.integer <= 65535"));
const positiveInt = type("string.integer.parse").pipe(type("number.integer >= 1"));
const nonNegativeInt = type("string.integer.parse").pipe(type("number.integer >= 0"));
const nonEmpty = type("string > 0");
const logLevel = type("'DEBUG' | 'INFO' | 'WARNING' | 'ERROR'");
const environment = type("'development' | 'production' | 'test'");
const origin = type(/^https?:\/\/[^\s/*]+(:\d+)?$/).describe("an origin such as https://app.example.com");
const origins = type("string").pipe((raw, ctx) => {
  const list = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.some((s) => s.includes("*"))) return ctx.error("a list of exact origins (a wildcard '*' is refused)");
  for (const item of list) {
    const checked = origin(item);
    if (checked instanceof type.errors) return ctx.error(`exact origins; "${item}" is not one`);
  }
  return list;
});
const databaseUrl = type(/^postgres(ql)?:\/\/.+/).describe("a postgres:// or postgresql:// URL");

/** The table of variables; README's configuration section is this list. */
export const VARIABLES: VariableSpec[] = [
  {
    name: "ARAGORA_ENV",
    key: "env",
    description: "development, production or test; production makes ARAGORA_JWT_SECRET mandatory",
    expected: "development | production | test",
    default: "development",
    parse: environment,
  },
  {
    name: "ARAGORA_DATA_DIR",
    key: "dataDir",
    description: "runtime data directory: SQLite databases, backups, checkpoints, keys",
    expected: "a directory path",
    default: ".nomic",
    parse: nonEmpty,
  },
  {
    name: "ARAGORA_HOST",
    key: "host",
    description: "address the HTTP and WebSocket listeners bind to",
    expected: "an IP address or host name",
    default: "0.0.0.0",
    parse: nonEmpty,
  },
  {
    name: "ARAGORA_API_PORT",
    key: "apiPort",
    description: "HTTP API port (0 picks a free port); --api-port overrides",
    expected: "an integer 0-65535",
    default: "8080",
    parse: port,
  },
  {
    name: "ARAGORA_WS_PORT",
    key: "wsPort",
    description: "dedicated WebSocket port (0 picks a free port); --ws-port overrides",
    expected: "an integer 0-65535",
    default: "8765",
    parse: port,
  },
  {
    name: "ARAGORA_LOG_LEVEL",
    key: "logLevel",
    description: "log level",
    expected: "DEBUG | INFO | WARNING | ERROR",
    default: "INFO",
    parse: logLevel,
  },
  {
    name: "ARAGORA_ALLOWED_ORIGINS",
    key: "allowedOrigins",
    description: "comma-separated exact CORS origins; a wildcard is refused; empty allows no cross-origin caller",
    expected: "https://a.example.com,https://b.example.com",
    default: "",
    parse: origins,
  },
  {
    name: "ARAGORA_API_TOKEN",
    key: "apiToken",
    description: "bearer token for the operator API (/api/admin/*); unset disables it",
    expected: "a string of at least 16 characters",
    default: undefined,
    secret: true,
    parse: type("string >= 16"),
  },
  {
    name: "ARAGORA_JWT_SECRET",
    key: "jwtSecret",
    description: "secret for JWT signing; required when ARAGORA_ENV=production",
    expected: "a string of at least 32 characters",
    default: undefined,
    secret: true,
    parse: type("string >= 32"),
  },
  {
    name: "ARAGORA_JWT_EXPIRY_HOURS",
    key: "jwtExpiryHours",
    description: "access token lifetime in hours",
    expected: "a positive integer",
    default: "24",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_REFRESH_TOKEN_EXPIRY_DAYS",
    key: "refreshTokenExpiryDays",
    description: "refresh token lifetime in days",
    expected: "a positive integer",
    default: "30",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_MAX_BODY_BYTES",
    key: "maxBodyBytes",
    description: "largest accepted HTTP request body; larger bodies get 413",
    expected: "a positive integer (bytes)",
    default: "1048576",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_WS_MAX_MESSAGE_SIZE",
    key: "wsMaxMessageSize",
    description: "largest accepted WebSocket message; larger ones close the socket with 1009",
    expected: "a positive integer (bytes)",
    default: "65536",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_WS_HEARTBEAT_S",
    key: "wsHeartbeatSeconds",
    description: "seconds between heartbeat messages sent to every WebSocket client",
    expected: "a positive integer (seconds)",
    default: "15",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_SHUTDOWN_TIMEOUT_S",
    key: "shutdownTimeoutSeconds",
    description: "how long SIGTERM waits for in-flight requests and running work",
    expected: "a non-negative integer (seconds)",
    default: "30",
    parse: nonNegativeInt,
  },
  {
    name: "DATABASE_URL",
    key: "databaseUrl",
    description: "PostgreSQL URL; when set, PostgreSQL replaces the embedded SQLite store",
    expected: "postgres://user:pass@host:5432/db",
    default: undefined,
    parse: databaseUrl,
  },
  {
    name: "ARAGORA_DB_POOL_SIZE",
    key: "dbPoolSize",
    description: "PostgreSQL connection pool size",
    expected: "a positive integer",
    default: "10",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_DB_POOL_TIMEOUT",
    key: "dbPoolTimeoutSeconds",
    description: "seconds to wait for a PostgreSQL connection",
    expected: "a positive integer (seconds)",
    default: "30",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_SQLITE_BUSY_TIMEOUT_MS",
    key: "sqliteBusyTimeoutMs",
    description: "SQLite busy_timeout: how long a writer waits for a lock held elsewhere",
    expected: "a non-negative integer (milliseconds)",
    default: "5000",
    parse: nonNegativeInt,
  },
  {
    name: "ARAGORA_ACTOR_MAILBOX_LIMIT",
    key: "actorMailboxLimit",
    description: "default bound of every actor mailbox",
    expected: "a positive integer",
    default: "10000",
    parse: positiveInt,
  },
  // --- providers and agents (issue 4) ---
  // --- debates, receipts, leaderboard (issue 4) ---
  // --- ops playbooks, backups, schedulers (issue 5) ---
];

/** Raised when one or more variables are invalid; `problems` has one line per variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parse the environment into a {@link Config}; throws {@link ConfigError} listing every bad variable.
 *
 * @example
 * loadConfig({ ARAGORA_LOG_LEVEL: "LOUD" }); // throws: ARAGORA_LOG_LEVEL: must be "DEBUG", ... (expected DEBUG | INFO | WARNING | ERROR)
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const spec of VARIABLES) {
    const raw = env[spec.name];
    const value = raw === undefined || (raw === "" && spec.default !== undefined) ? spec.default : raw;
    if (value === undefined) {
      out[spec.key] = undefined;
      continue;
    }
    const parsed = spec.parse(value);
    if (parsed instanceof type.errors) {
      const shown = spec.secret ? `${spec.name}` : `${spec.name}=${JSON.stringify(raw)}`;
      const why = spec.secret ? parsed.summary.replace(/\s*\(was [^)]*\)/g, "") : parsed.summary;
      problems.push(`${shown}: ${why}; expected ${spec.expected}`);
    } else {
      out[spec.key] = parsed;
    }
  }
  if (
    out.env === "production" &&
    out.jwtSecret === undefined &&
    !problems.some((p) => p.startsWith("ARAGORA_JWT_SECRET"))
  ) {
    problems.push(
      "ARAGORA_JWT_SECRET: is required when ARAGORA_ENV=production; expected a string of at least 32 characters",
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as unknown as Config;
}
