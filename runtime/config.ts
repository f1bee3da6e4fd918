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
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import { type Type, type } from "arktype";
import { Cron } from "croner";
import { lazy } from "../schemas/lazy.ts";
import { KeyFormatError, type KeyRing, parseKeyList } from "./security/encryption-keys.ts";

export type LogLevel = "DEBUG" | "INFO" | "WARNING" | "ERROR";
export type Environment = "development" | "production" | "test";

export interface Config {
  env: Environment;
  /** Check every response body against its route's schema (off in production: see runtime/http/route-schemas.ts). */
  validateResponses: boolean;
  dataDir: string;
  host: string;
  apiPort: number;
  wsPort: number;
  logLevel: LogLevel;
  allowedOrigins: string[];
  apiToken: string | undefined;
  jwtSecret: string | undefined;
  /**
   * The keys that encrypt stored secrets, the active one first (ARAGORA_ENCRYPTION_KEY); undefined:
   * unset. Fixed for the process's life: what features use is the key source
   * (runtime/security/key-source.ts), which also reads ARAGORA_ENCRYPTION_KEY_FILE and reloads it.
   */
  encryptionKeys: KeyRing | undefined;
  /** The file of keys, one a line, re-read on SIGHUP (ARAGORA_ENCRYPTION_KEY_FILE); undefined: unset. */
  encryptionKeyFile: string | undefined;
  jwtExpiryHours: number;
  refreshTokenExpiryDays: number;
  /** Whether anyone may create an account and organisation (POST /api/auth/sign-up). */
  signup: "closed" | "open";
  /** How long an invitation to join an organisation can be accepted, in seconds. */
  invitationTtlSeconds: number;
  /** Requests per API key or user (the token bucket of every authenticated route); null: no limit. */
  rateLimitApi: RateLimitSetting | null;
  /** Requests per client address to the sign-in routes (/api/auth/*); null: no limit. */
  rateLimitAuth: RateLimitSetting | null;
  /** Peers whose X-Forwarded-For names the client (addresses and CIDR ranges); empty: none. */
  trustedProxies: string[];
  /** Redis for state shared between nodes (the rate limits' buckets); unset: in-process. */
  redisUrl: string | undefined;
  /** Prefix of every key Aragora writes in Redis, so deployments can share one. */
  redisKeyPrefix: string;
  /** Monthly debate cost cap of an organisation that has not set its own, in USD; undefined: none. */
  defaultMonthlyCostCapUsd: number | undefined;
  maxBodyBytes: number;
  wsMaxMessageSize: number;
  wsHeartbeatSeconds: number;
  shutdownTimeoutSeconds: number;
  databaseUrl: string | undefined;
  dbPoolSize: number;
  dbPoolTimeoutSeconds: number;
  sqliteBusyTimeoutMs: number;
  /** The size the SQLite WAL is kept under, in bytes. */
  sqliteWalLimitBytes: number;
  actorMailboxLimit: number;
  // --- providers and agents ---
  anthropicApiKey: string | undefined;
  openaiApiKey: string | undefined;
  openrouterApiKey: string | undefined;
  mistralApiKey: string | undefined;
  geminiApiKey: string | undefined;
  xaiApiKey: string | undefined;
  anthropicBaseUrl: string;
  openaiBaseUrl: string;
  openrouterBaseUrl: string;
  mistralBaseUrl: string;
  geminiBaseUrl: string;
  xaiBaseUrl: string;
  localModels: LocalModelServer[];
  agentAliases: Record<string, string>;
  defaultAgents: string[] | undefined;
  fallbackModels: Record<string, string>;
  breakerFailures: number;
  breakerCooldownSeconds: number;
  agentMaxAttempts: number;
  agentRetryBaseMs: number;
  agentMaxRetryWaitSeconds: number;
  demoTokenDelayMs: number;
  /** Worker threads that run provider streams (0: on the main thread). */
  providerWorkers: number;
  // --- debates, receipts, leaderboard ---
  eventBufferSize: number;
  debateTurnTimeoutSeconds: number;
  debateRoundTimeoutSeconds: number;
  debateTimeoutSeconds: number;
  // --- webhooks ---
  /** Retries of a failed delivery before it is dead-lettered (the first attempt not counted). */
  webhookMaxRetries: number;
  /** The first retry's delay; each next one doubles, up to webhookMaxDelaySeconds (plus jitter). */
  webhookBaseDelaySeconds: number;
  webhookMaxDelaySeconds: number;
  /** One attempt, connect to the last byte of the answer. */
  webhookTimeoutSeconds: number;
  /** Consecutive failed attempts that open an endpoint's circuit breaker. */
  webhookBreakerThreshold: number;
  /** How long an open breaker waits before one probe delivery goes through. */
  webhookBreakerCooldownSeconds: number;
  /** How long a rotated-out signing secret still signs deliveries, unless the rotation says otherwise. */
  webhookSecretOverlapSeconds: number;
  /**
   * PostgreSQL with several nodes: how long a node's lease on a webhook endpoint or integration
   * lasts unrenewed (renewed every third of it); a dead node's are taken over within about two.
   */
  deliveryLeaseSeconds: number;
  // --- ops playbooks, backups, schedulers ---
  receiptRetentionDays: number;
  receiptCleanupIntervalHours: number;
  maintenanceSchedules: boolean;
  /** Cron patterns replacing a maintenance schedule's default, by schedule name. */
  maintenanceCron: Record<string, string>;
  // --- OAuth / OpenID Connect sign-in ---
  /** Google sign-in: set together with the secret and the redirect URI, or not at all. */
  googleOauthClientId: string | undefined;
  googleOauthClientSecret: string | undefined;
  googleOauthRedirectUri: string | undefined;
  /** Any OpenID Connect provider, by issuer URL: the four are set together, or not at all. */
  oidcOauthIssuer: string | undefined;
  oidcOauthClientId: string | undefined;
  oidcOauthClientSecret: string | undefined;
  oidcOauthRedirectUri: string | undefined;
  /** Where a completed sign-in lands when it asked for no page (a path here, or a URL on an allowed host). */
  oauthSuccessUrl: string;
  /** Where a failed sign-in lands, with `?error=<code>`. */
  oauthErrorUrl: string;
  /** Hosts (`name` or `name:port`) a sign-in may send the browser back to, besides this site's paths. */
  oauthAllowedRedirectHosts: string[];
  /** How long a started sign-in may take, in seconds. */
  oauthStateTtlSeconds: number;
  // --- webhooks and integrations ---
  /** Outbound requests (webhooks, integrations) may reach loopback addresses: development and tests only. */
  outboundAllowLoopback: boolean;
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
  /** Older or alternative names read when `name` is unset; setting two of them to different values is an error. */
  aliases?: string[];
  // biome-ignore lint/suspicious/noExplicitAny: each spec parses to its own field type
  parse: Type<(input: string) => any> | Type<any>;
}

/** "true" or "false", as a boolean. */
const flag = lazy(() => type("'true' | 'false'").pipe((v) => v === "true"));

const port = lazy(() => type("string.integer.parse").pipe(type("0 <= number.integer <= 65535")));
const positiveInt = lazy(() => type("string.integer.parse").pipe(type("number.integer >= 1")));
const nonNegativeInt = lazy(() => type("string.integer.parse").pipe(type("number.integer >= 0")));
const nonEmpty = lazy(() => type("string > 0"));
/** "auto" is one thread per core but one, at least 1 and at most 4. */
const workerCount = lazy(() =>
  type("'auto'")
    .pipe(() => Math.max(1, Math.min(4, availableParallelism() - 1)))
    .or(type("string.integer.parse").pipe(type("0 <= number.integer <= 64"))),
);
const logLevel = lazy(() => type("'DEBUG' | 'INFO' | 'WARNING' | 'ERROR'"));
const environment = lazy(() => type("'development' | 'production' | 'test'"));
const origin = lazy(() => type(/^https?:\/\/[^\s/*]+(:\d+)?$/).describe("an origin such as https://app.example.com"));
const origins = lazy(() =>
  type("string").pipe((raw, ctx) => {
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
  }),
);
const databaseUrl = lazy(() => type(/^postgres(ql)?:\/\/.+/).describe("a postgres:// or postgresql:// URL"));
/** "backup=0 4 * * *;cleanup=0 5 * * 6" -> { backup: "0 4 * * *", ... }; each pattern must parse. */
const maintenanceCron = lazy(() =>
  type("string").pipe((raw, ctx) => {
    const out: Record<string, string> = {};
    for (const item of raw
      .split(";")
      .map((s) => s.trim())
      .filter((s) => s.length > 0)) {
      const eq = item.indexOf("=");
      const name = item.slice(0, eq).trim();
      const pattern = item.slice(eq + 1).trim();
      if (eq < 0 || !/^[a-z][a-z0-9-]{0,63}$/.test(name)) return ctx.error(`name=pattern pairs; "${item}" is not one`);
      try {
        new Cron(pattern, { paused: true, timezone: "UTC" });
      } catch (err) {
        return ctx.error(`valid cron patterns; "${name}=${pattern}": ${(err as Error).message}`);
      }
      out[name] = pattern;
    }
    return out;
  }),
);

/** A token bucket: `requests` at once, refilled at `requests` per `perSeconds` (ARAGORA_RATE_LIMIT_*). */
export interface RateLimitSetting {
  requests: number;
  perSeconds: number;
}
/** "600/60" -> 600 requests per 60 s (a burst of 600, refilled at 10/s); "off" -> null. */
const rateLimit = lazy(() =>
  type("string").pipe((raw, ctx) => {
    const text = raw.trim();
    if (text === "off") return null;
    const m = /^(\d{1,9})\s*\/\s*(\d{1,7})$/.exec(text);
    const requests = Number(m?.[1]);
    const perSeconds = Number(m?.[2]);
    if (!m || requests < 1 || perSeconds < 1) return ctx.error("<requests>/<seconds> with both at least 1, or off");
    const setting: RateLimitSetting = { requests, perSeconds };
    return setting;
  }),
);
/** IPv4/IPv6 addresses and CIDR ranges, comma-separated. */
const addressList = lazy(() =>
  type("string").pipe((raw, ctx) => {
    const list = raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    for (const item of list) {
      const slash = item.indexOf("/");
      const address = slash < 0 ? item : item.slice(0, slash);
      const family = isIP(address);
      const bits = slash < 0 ? undefined : item.slice(slash + 1);
      const maxBits = family === 6 ? 128 : 32;
      if (family === 0 || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits))) {
        return ctx.error(`IP addresses or CIDR ranges; "${item}" is not one`);
      }
    }
    return list;
  }),
);
const redisUrl = lazy(() => type(/^rediss?:\/\/.+/).describe("a redis:// or rediss:// URL"));
const positiveUsd = lazy(() => type("string.numeric.parse").pipe(type("0 < number <= 1000000000")));
/** Seconds, fractions allowed (a test's 0.05), up to a day. */
const positiveSeconds = lazy(() => type("string.numeric.parse").pipe(type("0 < number <= 86400")));
const leaseSeconds = lazy(() => type("string.numeric.parse").pipe(type("1 <= number <= 3600")));

/** An OpenAI-compatible model server declared in ARAGORA_LOCAL_MODELS. */
export interface LocalModelServer {
  name: string;
  baseUrl: string;
  model: string;
}

/** Provider names of agents (`provider:model`); a local server may not take one of them. */
export const BUILTIN_PROVIDERS = ["anthropic", "openai", "openrouter", "mistral", "gemini", "xai", "demo"] as const;
const providerName = /^[a-z][a-z0-9_-]{0,31}$/;
const agentName = /^[a-z][a-z0-9_-]{0,31}:[A-Za-z0-9._/@:-]{1,200}$/;
const aliasName = /^[A-Za-z0-9._-]{1,64}$/;
const apiKey = lazy(() => type("string").pipe((raw) => (raw.trim() === "" ? undefined : raw.trim())));
const isHttpUrl = (raw: string) => {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
};
const baseUrl = lazy(() =>
  type("string").pipe((raw, ctx) =>
    isHttpUrl(raw.trim()) ? raw.trim().replace(/\/+$/, "") : ctx.error("an http(s) URL"),
  ),
);
/** Splits "a=b,c=d" into [item, left, right] with trimmed sides. */
function pairs(raw: string): Array<[string, string, string]> {
  return raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
    .map((item) => {
      const eq = item.indexOf("=");
      return [item, eq < 0 ? item : item.slice(0, eq).trim(), eq < 0 ? "" : item.slice(eq + 1).trim()];
    });
}
const localModels = lazy(() =>
  type("string").pipe((raw, ctx) => {
    const servers: LocalModelServer[] = [];
    for (const [item, name, rest] of pairs(raw)) {
      const bar = rest.lastIndexOf("|");
      const url = bar < 0 ? rest : rest.slice(0, bar).trim();
      const model = bar < 0 ? "" : rest.slice(bar + 1).trim();
      const form = `entries name=baseURL|model; "${item}"`;
      if (!providerName.test(name)) return ctx.error(`${form}: the name must be lowercase letters, digits, - or _`);
      if ((BUILTIN_PROVIDERS as readonly string[]).includes(name))
        return ctx.error(`${form}: "${name}" is a built-in provider name`);
      if (servers.some((s) => s.name === name)) return ctx.error(`${form}: "${name}" is declared twice`);
      if (!isHttpUrl(url)) return ctx.error(`${form}: the base URL must be an http(s) URL`);
      if (!/^[A-Za-z0-9._/@:-]{1,200}$/.test(model))
        return ctx.error(`${form}: the model after "|" is missing or invalid`);
      servers.push({ name, baseUrl: url.replace(/\/+$/, ""), model });
    }
    return servers;
  }),
);
const agentAliases = lazy(() =>
  type("string").pipe((raw, ctx) => {
    const aliases: Record<string, string> = {};
    for (const [item, alias, target] of pairs(raw)) {
      const form = `entries alias=provider:model; "${item}"`;
      if (!aliasName.test(alias)) return ctx.error(`${form}: the alias must be letters, digits, ., - or _`);
      if (!agentName.test(target)) return ctx.error(`${form}: the target must be provider:model`);
      aliases[alias] = target;
    }
    return aliases;
  }),
);
const agentList = lazy(() =>
  type("string").pipe((raw, ctx) => {
    const list = raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const bad = list.find((s) => !agentName.test(s) && !aliasName.test(s));
    if (bad !== undefined) return ctx.error(`agent names (provider:model) or aliases; "${bad}" is neither`);
    return list.length === 0 ? undefined : list;
  }),
);
const fallbackModels = lazy(() =>
  type("string").pipe((raw, ctx) => {
    const map: Record<string, string> = {};
    for (const [item, from, to] of pairs(raw)) {
      const form = `entries provider:model=vendor/model; "${item}"`;
      if (!agentName.test(from)) return ctx.error(`${form}: the left side must be provider:model`);
      if (!/^[A-Za-z0-9._/@:-]{1,200}$/.test(to))
        return ctx.error(`${form}: the OpenRouter model is missing or invalid`);
      map[from] = to;
    }
    return map;
  }),
);

/** Loopback hosts, where plain http is acceptable (nothing crosses a network). */
const isLoopbackHost = (hostname: string) =>
  hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
/** An https URL, or http on a loopback host; null when `raw` is neither. */
function secureUrl(raw: string): URL | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const secure = url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
  return secure && url.username === "" && url.password === "" ? url : null;
}
const oauthIssuer = lazy(() =>
  type("string").pipe((raw, ctx) => {
    const url = secureUrl(raw.trim());
    if (url === null || url.search !== "" || url.hash !== "")
      return ctx.error("an https URL without query or fragment (http only on a loopback host)");
    // The issuer is compared exactly with the provider's discovery document: keep it as written.
    return raw.trim();
  }),
);
/** The callback URL registered with a provider: it must reach this server's callback route. */
const oauthCallback = (provider: string) =>
  type("string").pipe((raw, ctx) => {
    const url = secureUrl(raw.trim());
    const route = `/api/auth/oauth/${provider}/callback`;
    if (url === null || url.hash !== "" || !url.pathname.endsWith(route))
      return ctx.error(`an https URL ending in ${route} (http only on a loopback host)`);
    return url.href;
  });
/** A page to send the browser to: a path on this site, or an https URL (checked against the allowed hosts). */
const redirectTarget = lazy(() =>
  type("string").pipe((raw, ctx) => {
    const value = raw.trim();
    if (value.startsWith("/")) {
      if (/^\/[/\\]/.test(value) || /[\s\\]/.test(value)) return ctx.error("a path such as /app (not //host)");
      return value;
    }
    const url = secureUrl(value);
    return url === null ? ctx.error("a path such as /app, or an https URL") : url.href;
  }),
);
const hostList = lazy(() =>
  type("string").pipe((raw, ctx) => {
    const hosts = raw
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0);
    const bad = hosts.find((h) => !/^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:\d{1,5})?$/.test(h));
    return bad === undefined ? hosts : ctx.error(`host names, each optionally with :port; "${bad}" is not one`);
  }),
);
/** Whether an absolute URL's host is one of `hosts` (`name` allows any port, `name:port` that one). */
function hostListed(href: string, hosts: readonly string[]): boolean {
  const url = new URL(href);
  return hosts.includes(url.host.toLowerCase()) || hosts.includes(url.hostname.toLowerCase());
}

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
    name: "ARAGORA_VALIDATE_RESPONSES",
    key: "validateResponses",
    description:
      "check every response body against its documented schema (a mismatch is a 500 naming the field); default true, false when ARAGORA_ENV=production",
    expected: "true | false",
    default: undefined,
    parse: flag,
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
    description: "the operator's bearer token (every route; role operator); unset turns the admin API /api/admin/* off",
    expected: "a string of at least 16 characters",
    default: undefined,
    secret: true,
    parse: lazy(() => type("string >= 16")),
  },
  {
    name: "ARAGORA_JWT_SECRET",
    key: "jwtSecret",
    description:
      "secret for signing access tokens (HS256); required when ARAGORA_ENV=production; unset elsewhere, a random one is kept in <data dir>/jwt.secret",
    expected: "a string of at least 32 characters",
    default: undefined,
    secret: true,
    parse: lazy(() => type("string >= 32")),
  },
  {
    name: "ARAGORA_ENCRYPTION_KEY",
    key: "encryptionKeys",
    description: "keys that encrypt stored secrets (AES-256-GCM): the first encrypts, all decrypt (rotation: new,old)",
    expected: "64 hex characters, or several separated by commas, newest first",
    default: undefined,
    secret: true,
    parse: lazy(() =>
      type("string").pipe((value, ctx) => {
        try {
          return parseKeyList(value, "ARAGORA_ENCRYPTION_KEY");
        } catch (err) {
          if (err instanceof KeyFormatError) return ctx.error({ message: err.message });
          throw err;
        }
      }),
    ),
  },
  {
    name: "ARAGORA_ENCRYPTION_KEY_FILE",
    key: "encryptionKeyFile",
    description:
      "a file of keys that encrypt stored secrets, one a line, newest first (# comments), mode 0600 or stricter; re-read on SIGHUP and POST /api/admin/keys/reload, so a key can be added without a restart; not with ARAGORA_ENCRYPTION_KEY",
    expected: "a file path",
    default: undefined,
    parse: nonEmpty,
  },
  {
    name: "ARAGORA_JWT_EXPIRY_HOURS",
    key: "jwtExpiryHours",
    description: "access token lifetime in hours (a session lives on through its refresh token)",
    expected: "a positive integer",
    default: "1",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_REFRESH_TOKEN_EXPIRY_DAYS",
    key: "refreshTokenExpiryDays",
    description: "refresh token lifetime in days: a session not refreshed for this long ends",
    expected: "a positive integer",
    default: "30",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_SIGNUP",
    key: "signup",
    description:
      "open lets anyone create an account and its own organisation (POST /api/auth/sign-up); closed: accounts come from the first-start setup token and `aragora users create`",
    expected: "closed | open",
    default: "closed",
    parse: lazy(() => type("'closed' | 'open'")),
  },
  {
    name: "ARAGORA_INVITATION_TTL_SECONDS",
    key: "invitationTtlSeconds",
    description:
      "how long an invitation (POST /api/org/invitations) can be accepted, in seconds; accepting one signs up even when ARAGORA_SIGNUP=closed",
    expected: "a positive integer",
    default: "604800",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_RATE_LIMIT_API",
    key: "rateLimitApi",
    description:
      "requests per API key or signed-in user on every authenticated route: a burst of <requests>, refilled at <requests> per <seconds>; off: no limit. The operator token is not limited",
    expected: "<requests>/<seconds> (e.g. 600/60) or off",
    default: "600/60",
    parse: rateLimit,
  },
  {
    name: "ARAGORA_RATE_LIMIT_AUTH",
    key: "rateLimitAuth",
    description:
      "requests per client address to the sign-in routes (/api/auth/*: setup, sign-up, sign-in, refresh, password reset, WebSocket tickets, ...), whatever the account; off: no limit",
    expected: "<requests>/<seconds> (e.g. 60/60) or off",
    default: "60/60",
    parse: rateLimit,
  },
  {
    name: "ARAGORA_TRUSTED_PROXIES",
    key: "trustedProxies",
    description:
      "reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client; from any other peer the header is ignored",
    expected: "10.0.0.0/8,192.0.2.7,::1",
    default: "",
    parse: addressList,
  },
  {
    name: "ARAGORA_REDIS_URL",
    key: "redisUrl",
    description:
      "Redis for state shared by every node: the rate limits' buckets (one budget across nodes); unset: each process keeps its own",
    expected: "redis://host:6379 (rediss:// for TLS)",
    default: undefined,
    secret: true,
    parse: redisUrl,
  },
  {
    name: "ARAGORA_REDIS_KEY_PREFIX",
    key: "redisKeyPrefix",
    description: "prefix of every key Aragora writes in Redis, so several deployments can share one server",
    expected: "letters, digits and : _ - . (up to 64)",
    default: "aragora:",
    parse: lazy(() => type(/^[A-Za-z0-9:_.-]{1,64}$/).describe("letters, digits and : _ - . (up to 64)")),
  },
  {
    name: "ARAGORA_MONTHLY_COST_CAP_USD",
    key: "defaultMonthlyCostCapUsd",
    description:
      "monthly debate cost cap of an organisation that has not set its own (PUT /api/billing/cap): once its debates of the month cost this much, a new debate gets 402",
    expected: "a positive number of US dollars",
    default: undefined,
    parse: positiveUsd,
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
    description:
      "connections of the server's main PostgreSQL pool; the debates' store opens one half that size (at least 2), each other part its own of 1 to 4",
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
    name: "ARAGORA_SQLITE_WAL_LIMIT_MB",
    key: "sqliteWalLimitBytes",
    description: "the size the SQLite WAL is kept under: past a quarter of it the checkpointer empties it",
    expected: "a positive integer (MiB)",
    default: "64",
    parse: positiveInt.pipe((mb) => mb * 1024 * 1024),
  },
  {
    name: "ARAGORA_ACTOR_MAILBOX_LIMIT",
    key: "actorMailboxLimit",
    description: "default bound of every actor mailbox",
    expected: "a positive integer",
    default: "10000",
    parse: positiveInt,
  },
  // --- providers and agents ---
  {
    name: "ANTHROPIC_API_KEY",
    key: "anthropicApiKey",
    description: "Anthropic API key (agents anthropic:<model>)",
    expected: "the provider's API key",
    default: undefined,
    secret: true,
    parse: apiKey,
  },
  {
    name: "OPENAI_API_KEY",
    key: "openaiApiKey",
    description: "OpenAI API key (agents openai:<model>)",
    expected: "the provider's API key",
    default: undefined,
    secret: true,
    parse: apiKey,
  },
  {
    name: "OPENROUTER_API_KEY",
    key: "openrouterApiKey",
    description:
      "OpenRouter API key (agents openrouter:<vendor/model>); also enables the automatic fallback on 429, 402 and quota errors",
    expected: "the provider's API key",
    default: undefined,
    secret: true,
    parse: apiKey,
  },
  {
    name: "MISTRAL_API_KEY",
    key: "mistralApiKey",
    description: "Mistral API key (agents mistral:<model>)",
    expected: "the provider's API key",
    default: undefined,
    secret: true,
    parse: apiKey,
  },
  {
    name: "GEMINI_API_KEY",
    key: "geminiApiKey",
    description: "Google Gemini API key (agents gemini:<model>)",
    expected: "the provider's API key",
    default: undefined,
    secret: true,
    parse: apiKey,
  },
  {
    name: "XAI_API_KEY",
    key: "xaiApiKey",
    description: "xAI API key (agents xai:<model>)",
    expected: "the provider's API key",
    default: undefined,
    secret: true,
    parse: apiKey,
  },
  {
    name: "ANTHROPIC_BASE_URL",
    key: "anthropicBaseUrl",
    description: "Anthropic Messages API base URL",
    expected: "an http(s) URL",
    default: "https://api.anthropic.com/v1",
    parse: baseUrl,
  },
  {
    name: "OPENAI_BASE_URL",
    key: "openaiBaseUrl",
    description: "OpenAI chat-completions API base URL",
    expected: "an http(s) URL",
    default: "https://api.openai.com/v1",
    parse: baseUrl,
  },
  {
    name: "OPENROUTER_BASE_URL",
    key: "openrouterBaseUrl",
    description: "OpenRouter (OpenAI-compatible) API base URL",
    expected: "an http(s) URL",
    default: "https://openrouter.ai/api/v1",
    parse: baseUrl,
  },
  {
    name: "MISTRAL_BASE_URL",
    key: "mistralBaseUrl",
    description: "Mistral API base URL",
    expected: "an http(s) URL",
    default: "https://api.mistral.ai/v1",
    parse: baseUrl,
  },
  {
    name: "GEMINI_BASE_URL",
    key: "geminiBaseUrl",
    description: "Gemini API base URL",
    expected: "an http(s) URL",
    default: "https://generativelanguage.googleapis.com/v1beta",
    parse: baseUrl,
  },
  {
    name: "XAI_BASE_URL",
    key: "xaiBaseUrl",
    description: "xAI (OpenAI-compatible chat completions) API base URL",
    expected: "an http(s) URL",
    default: "https://api.x.ai/v1",
    parse: baseUrl,
  },
  {
    name: "ARAGORA_LOCAL_MODELS",
    key: "localModels",
    description:
      "OpenAI-compatible local servers (Ollama, vLLM, llama.cpp, LM Studio): name=baseURL|default model, comma-separated; agents are <name>:<model>",
    expected: "ollama=http://127.0.0.1:11434/v1|llama3.1,vllm=http://10.0.0.5:8000/v1|qwen2.5",
    default: "",
    parse: localModels,
  },
  {
    name: "ARAGORA_AGENT_ALIASES",
    key: "agentAliases",
    description: "short names for agents: alias=provider:model, comma-separated",
    expected: "claude=anthropic:claude-sonnet-4-5,gpt=openai:gpt-4.1-mini",
    default: "",
    parse: agentAliases,
  },
  {
    name: "ARAGORA_DEFAULT_AGENTS",
    key: "defaultAgents",
    description:
      "agents of a debate that names none; unset: derived from the API keys present, else demo:alice,demo:bob,demo:carol",
    expected: "comma-separated agent names or aliases, e.g. anthropic:claude-sonnet-4-5,openai:gpt-4.1-mini",
    default: undefined,
    parse: agentList,
  },
  {
    name: "ARAGORA_FALLBACK_MODELS",
    key: "fallbackModels",
    description:
      "OpenRouter model an agent falls back to, overriding the built-in mapping: provider:model=vendor/model, comma-separated",
    expected: "anthropic:claude-sonnet-4-5=anthropic/claude-sonnet-4.5",
    default: "",
    parse: fallbackModels,
  },
  {
    name: "ARAGORA_BREAKER_FAILURES",
    key: "breakerFailures",
    description: "consecutive failed turns that open an agent's circuit breaker",
    expected: "a positive integer",
    default: "5",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_BREAKER_COOLDOWN_S",
    key: "breakerCooldownSeconds",
    description: "seconds an open circuit breaker waits before letting one probe turn through (half-open)",
    expected: "a positive integer (seconds)",
    default: "60",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_AGENT_MAX_ATTEMPTS",
    key: "agentMaxAttempts",
    description: "provider calls per turn, the first included, before the turn fails",
    expected: "a positive integer",
    default: "3",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_AGENT_RETRY_BASE_MS",
    key: "agentRetryBaseMs",
    description:
      "first backoff of the exponential retry schedule (doubled per attempt, with jitter) when the provider sends no retry-after",
    expected: "a positive integer (milliseconds)",
    default: "500",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_AGENT_MAX_RETRY_WAIT_S",
    key: "agentMaxRetryWaitSeconds",
    description:
      "longest wait before a retry; a provider retry-after beyond it fails the call at once instead of waiting",
    expected: "a positive integer (seconds)",
    default: "60",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_DEMO_TOKEN_DELAY_MS",
    key: "demoTokenDelayMs",
    description: "delay between the streamed tokens of the simulated demo agents (0 streams at once)",
    expected: "a non-negative integer (milliseconds)",
    default: "20",
    parse: nonNegativeInt,
  },
  {
    name: "ARAGORA_WORKERS",
    aliases: ["ARAGORA_PROVIDER_WORKERS"],
    key: "providerWorkers",
    description:
      "worker threads that stream from the model providers (request, SSE parsing, validation), so a thousand concurrent streams do not stall the API's event loop; 0 runs them on the main thread",
    expected: "auto or an integer from 0 to 64 (auto: one per core but one, 1 to 4)",
    default: "auto",
    parse: workerCount,
  },
  // --- debates, receipts, leaderboard ---
  {
    name: "ARAGORA_EVENT_BUFFER_SIZE",
    key: "eventBufferSize",
    description:
      "events a WebSocket debate subscriber may have buffered (unsent, or waiting behind its replay) before it is disconnected as a slow consumer (close 4008)",
    expected: "a positive integer (events)",
    default: "1000",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_DEBATE_TURN_TIMEOUT_S",
    key: "debateTurnTimeoutSeconds",
    description: "default per-turn timeout of a debate (a request's timeouts.turn_s overrides)",
    expected: "a positive integer (seconds)",
    default: "120",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_DEBATE_ROUND_TIMEOUT_S",
    key: "debateRoundTimeoutSeconds",
    description: "default per-round timeout of a debate (timeouts.round_s overrides)",
    expected: "a positive integer (seconds)",
    default: "600",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_DEBATE_TIMEOUT_S",
    key: "debateTimeoutSeconds",
    description:
      "default whole-debate timeout in running time: time the server is down does not count (timeouts.debate_s overrides)",
    expected: "a positive integer (seconds)",
    default: "3600",
    parse: positiveInt,
  },
  // --- ops playbooks, backups, schedulers ---
  {
    name: "ARAGORA_WEBHOOK_MAX_RETRIES",
    key: "webhookMaxRetries",
    description: "retries of a failed webhook delivery before it is dead-lettered (the first attempt not counted)",
    expected: "a non-negative integer",
    default: "5",
    parse: nonNegativeInt,
  },
  {
    name: "ARAGORA_WEBHOOK_BASE_DELAY_SECONDS",
    key: "webhookBaseDelaySeconds",
    description: "first retry delay of a webhook delivery: min(base * 2^attempt, max) plus jitter",
    expected: "a positive number of seconds (fractions allowed), at most 86400",
    default: "1",
    parse: positiveSeconds,
  },
  {
    name: "ARAGORA_WEBHOOK_MAX_DELAY_SECONDS",
    key: "webhookMaxDelaySeconds",
    description: "longest retry delay of a webhook delivery (before jitter)",
    expected: "a positive number of seconds (fractions allowed), at most 86400",
    default: "300",
    parse: positiveSeconds,
  },
  {
    name: "ARAGORA_WEBHOOK_TIMEOUT_SECONDS",
    key: "webhookTimeoutSeconds",
    description: "one webhook delivery attempt, connect to the last byte of the answer; longer is a failed attempt",
    expected: "a positive number of seconds (fractions allowed), at most 86400",
    default: "30",
    parse: positiveSeconds,
  },
  {
    name: "ARAGORA_WEBHOOK_CIRCUIT_BREAKER_THRESHOLD",
    key: "webhookBreakerThreshold",
    description: "consecutive failed attempts that open a webhook endpoint's circuit breaker (deliveries then wait)",
    expected: "a positive integer",
    default: "5",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_WEBHOOK_CIRCUIT_BREAKER_COOLDOWN_SECONDS",
    key: "webhookBreakerCooldownSeconds",
    description: "seconds an open webhook circuit breaker waits before one probe delivery goes through",
    expected: "a positive number of seconds (fractions allowed), at most 86400",
    default: "60",
    parse: positiveSeconds,
  },
  {
    name: "ARAGORA_WEBHOOK_SECRET_OVERLAP_SECONDS",
    key: "webhookSecretOverlapSeconds",
    description:
      "how long a rotated-out webhook signing secret still signs deliveries beside the new one (POST /api/webhooks/:id/rotate-secret may say otherwise)",
    expected: "a positive number of seconds, at most 86400",
    default: "86400",
    parse: positiveSeconds,
  },
  {
    name: "ARAGORA_DELIVERY_LEASE_SECONDS",
    key: "deliveryLeaseSeconds",
    description:
      "PostgreSQL with several nodes: seconds a node's lease on a webhook endpoint or integration (it alone sends their deliveries) lasts unrenewed; renewed every third of it, a dead node's leases move to the others within about two",
    expected: "a number of seconds (fractions allowed) from 1 to 3600",
    default: "15",
    parse: leaseSeconds,
  },
  {
    name: "ARAGORA_RECEIPT_RETENTION_DAYS",
    key: "receiptRetentionDays",
    description: "decision receipts older than this many days are deleted by the receipt retention scheduler",
    expected: "a positive integer (days)",
    default: "2555",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_RECEIPT_CLEANUP_INTERVAL_HOURS",
    key: "receiptCleanupIntervalHours",
    description: "hours between runs of the receipt retention scheduler",
    expected: "a positive integer (hours)",
    default: "24",
    parse: positiveInt,
  },
  {
    name: "ARAGORA_MAINTENANCE_SCHEDULES",
    key: "maintenanceSchedules",
    description:
      "run the maintenance playbooks on schedule (hourly WAL checkpoint, daily backup, weekly ANALYZE and cleanup)",
    expected: "true | false",
    default: "true",
    parse: flag,
  },
  {
    name: "ARAGORA_MAINTENANCE_CRON",
    key: "maintenanceCron",
    description:
      "replace maintenance schedules' times: `name=cron pattern` separated by `;` (UTC), e.g. `backup=0 4 * * *;cleanup=0 5 * * 6`",
    expected: "name=<5- or 6-field cron pattern> pairs separated by ;",
    default: "",
    parse: maintenanceCron,
  },
  // --- OAuth / OpenID Connect sign-in (access/oauth/) ---
  {
    name: "GOOGLE_OAUTH_CLIENT_ID",
    key: "googleOauthClientId",
    description:
      "Google sign-in (GET /api/auth/oauth/google/start): the OAuth client ID; set with GOOGLE_OAUTH_CLIENT_SECRET and GOOGLE_OAUTH_REDIRECT_URI",
    expected: "the client ID from the Google Cloud console (...apps.googleusercontent.com)",
    default: undefined,
    parse: apiKey,
  },
  {
    name: "GOOGLE_OAUTH_CLIENT_SECRET",
    key: "googleOauthClientSecret",
    description: "Google sign-in: the OAuth client secret",
    expected: "the client secret from the Google Cloud console",
    default: undefined,
    secret: true,
    parse: apiKey,
  },
  {
    name: "GOOGLE_OAUTH_REDIRECT_URI",
    key: "googleOauthRedirectUri",
    description:
      "Google sign-in: the callback URL registered with Google, this server's /api/auth/oauth/google/callback",
    expected: "https://aragora.example.com/api/auth/oauth/google/callback",
    default: undefined,
    parse: lazy(() => oauthCallback("google")),
  },
  {
    name: "OIDC_OAUTH_ISSUER",
    key: "oidcOauthIssuer",
    description:
      "sign-in with any OpenID Connect provider (GET /api/auth/oauth/oidc/start): its issuer URL, read from <issuer>/.well-known/openid-configuration; set with OIDC_OAUTH_CLIENT_ID, OIDC_OAUTH_CLIENT_SECRET and OIDC_OAUTH_REDIRECT_URI",
    expected: "https://login.example.com (http only on a loopback host)",
    default: undefined,
    parse: oauthIssuer,
  },
  {
    name: "OIDC_OAUTH_CLIENT_ID",
    key: "oidcOauthClientId",
    description: "OpenID Connect sign-in: the client ID registered with the provider",
    expected: "the client ID",
    default: undefined,
    parse: apiKey,
  },
  {
    name: "OIDC_OAUTH_CLIENT_SECRET",
    key: "oidcOauthClientSecret",
    description: "OpenID Connect sign-in: the client secret",
    expected: "the client secret",
    default: undefined,
    secret: true,
    parse: apiKey,
  },
  {
    name: "OIDC_OAUTH_REDIRECT_URI",
    key: "oidcOauthRedirectUri",
    description:
      "OpenID Connect sign-in: the callback URL registered with the provider, this server's /api/auth/oauth/oidc/callback",
    expected: "https://aragora.example.com/api/auth/oauth/oidc/callback",
    default: undefined,
    parse: lazy(() => oauthCallback("oidc")),
  },
  {
    name: "OAUTH_SUCCESS_URL",
    key: "oauthSuccessUrl",
    description:
      "where a completed OAuth sign-in sends the browser when the start asked for no return_to; a URL's host must be in OAUTH_ALLOWED_REDIRECT_HOSTS",
    expected: "a path such as /app, or https://app.example.com/welcome",
    default: "/",
    parse: redirectTarget,
  },
  {
    name: "OAUTH_ERROR_URL",
    key: "oauthErrorUrl",
    description:
      "where a failed OAuth sign-in sends the browser, with ?error=<code>; a URL's host must be in OAUTH_ALLOWED_REDIRECT_HOSTS",
    expected: "a path such as /sign-in, or https://app.example.com/sign-in",
    default: "/",
    parse: redirectTarget,
  },
  {
    name: "OAUTH_ALLOWED_REDIRECT_HOSTS",
    key: "oauthAllowedRedirectHosts",
    description:
      "hosts an OAuth sign-in may send the browser back to (return_to, OAUTH_SUCCESS_URL, OAUTH_ERROR_URL); paths on this site are always allowed, any other URL falls back to OAUTH_SUCCESS_URL",
    expected: "app.example.com,admin.example.com:8443",
    default: "",
    parse: hostList,
  },
  {
    name: "ARAGORA_OAUTH_STATE_TTL_S",
    key: "oauthStateTtlSeconds",
    description: "how long a started OAuth sign-in may take before its state expires (the user starts again)",
    expected: "a positive integer (seconds)",
    default: "600",
    parse: positiveInt,
  },
  // --- webhooks and integrations (runtime/http/outbound-guard.ts) ---
  {
    name: "ARAGORA_OUTBOUND_ALLOW_LOOPBACK",
    key: "outboundAllowLoopback",
    description:
      "let webhooks and integrations post to loopback addresses (127.0.0.0/8, ::1, localhost) for local development and tests; private, link-local and metadata addresses stay refused; refused when ARAGORA_ENV=production",
    expected: "true | false",
    default: "false",
    parse: flag,
  },
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
    const named = [spec.name, ...(spec.aliases ?? [])].filter((n) => env[n] !== undefined);
    const raw = named.length > 0 ? env[named[0] as string] : undefined;
    const disagreeing = named.find((n) => env[n] !== raw);
    if (disagreeing !== undefined) {
      const show = (n: string) => (spec.secret ? n : `${n}=${JSON.stringify(env[n])}`);
      problems.push(
        `${show(spec.name)} and ${show(disagreeing)}: are two names for one setting and disagree; expected one of them, or both set to the same value`,
      );
      continue;
    }
    const value = raw === undefined || (raw === "" && spec.default !== undefined) ? spec.default : raw;
    if (value === undefined) {
      out[spec.key] = undefined;
      continue;
    }
    const parsed = spec.parse(value);
    if (parsed instanceof type.errors) {
      const given = named[0] ?? spec.name;
      const shown = spec.secret ? `${given}` : `${given}=${JSON.stringify(raw)}`;
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
  const keyVariables = ["ARAGORA_ENCRYPTION_KEY", "ARAGORA_ENCRYPTION_KEY_FILE"];
  if (keyVariables.every((n) => env[n] !== undefined && env[n] !== "")) {
    problems.push(
      "ARAGORA_ENCRYPTION_KEY and ARAGORA_ENCRYPTION_KEY_FILE: are both set; expected one of them (the file when keys must change without a restart)",
    );
  }
  if (out.env === "production" && out.outboundAllowLoopback === true) {
    problems.push(
      'ARAGORA_OUTBOUND_ALLOW_LOOPBACK="true": is refused when ARAGORA_ENV=production (it lets a webhook URL reach this machine\'s own services); expected false',
    );
  }
  problems.push(...oauthProblems(out as Partial<Config>, problems));
  if (problems.length > 0) throw new ConfigError(problems);
  out.validateResponses ??= out.env !== "production";
  return out as unknown as Config;
}

/**
 * The OAuth settings that make sense only together: a provider's variables all set or none, and
 * the configured landing pages on allowed hosts (so every redirect of a sign-in is on one list).
 * Variables already reported as bad are not reported again.
 */
function oauthProblems(c: Partial<Config>, reported: readonly string[]): string[] {
  const problems: string[] = [];
  const isBad = (name: string) => reported.some((p) => p.startsWith(`${name}=`) || p.startsWith(`${name}:`));
  const groups: Array<Array<[string, unknown]>> = [
    [
      ["GOOGLE_OAUTH_CLIENT_ID", c.googleOauthClientId],
      ["GOOGLE_OAUTH_CLIENT_SECRET", c.googleOauthClientSecret],
      ["GOOGLE_OAUTH_REDIRECT_URI", c.googleOauthRedirectUri],
    ],
    [
      ["OIDC_OAUTH_ISSUER", c.oidcOauthIssuer],
      ["OIDC_OAUTH_CLIENT_ID", c.oidcOauthClientId],
      ["OIDC_OAUTH_CLIENT_SECRET", c.oidcOauthClientSecret],
      ["OIDC_OAUTH_REDIRECT_URI", c.oidcOauthRedirectUri],
    ],
  ];
  for (const group of groups) {
    const set = group.filter(([name, value]) => value !== undefined || isBad(name)).map(([name]) => name);
    const missing = group.filter(([name, value]) => value === undefined && !isBad(name)).map(([name]) => name);
    if (set.length > 0 && missing.length > 0) {
      problems.push(
        `${missing.join(", ")}: ${missing.length === 1 ? "is" : "are"} required with ${set.join(", ")}; expected all of ${group.map(([n]) => n).join(", ")}, or none`,
      );
    }
  }
  const hosts = c.oauthAllowedRedirectHosts ?? [];
  for (const [name, value] of [
    ["OAUTH_SUCCESS_URL", c.oauthSuccessUrl],
    ["OAUTH_ERROR_URL", c.oauthErrorUrl],
  ] as const) {
    if (value === undefined || value.startsWith("/") || isBad("OAUTH_ALLOWED_REDIRECT_HOSTS")) continue;
    if (!hostListed(value, hosts)) {
      problems.push(
        `${name}=${JSON.stringify(value)}: its host is not in OAUTH_ALLOWED_REDIRECT_HOSTS; expected a path on this site, or a URL on one of the allowed hosts (${hosts.join(", ") || "none"})`,
      );
    }
  }
  return problems;
}

/**
 * A copy of the process environment, for entry points that pass it on explicitly (`ops run`
 * hands it to playbooks as `${{ env.X }}`), so that only this module reads `process.env`.
 *
 * @example
 * await opsMain(process.argv.slice(2), environmentSnapshot());
 */
export function environmentSnapshot(): Record<string, string | undefined> {
  return { ...process.env };
}
