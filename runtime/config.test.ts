import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "./config.ts";

/** The problems loadConfig names for `env` (none: it loads). */
function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("ARAGORA_WORKERS (the runbook's name) and its older name ARAGORA_PROVIDER_WORKERS", () => {
  test("ARAGORA_WORKERS sets the provider worker threads", () => {
    expect(loadConfig({ ARAGORA_WORKERS: "3" }).providerWorkers).toBe(3);
    expect(loadConfig({ ARAGORA_WORKERS: "0" }).providerWorkers).toBe(0);
  });

  test("the older name still works alone, and agrees with the new one", () => {
    expect(loadConfig({ ARAGORA_PROVIDER_WORKERS: "2" }).providerWorkers).toBe(2);
    expect(loadConfig({ ARAGORA_WORKERS: "2", ARAGORA_PROVIDER_WORKERS: "2" }).providerWorkers).toBe(2);
  });

  test("the two names set to different values are refused, naming both", () => {
    let error: unknown;
    try {
      loadConfig({ ARAGORA_WORKERS: "4", ARAGORA_PROVIDER_WORKERS: "1" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'ARAGORA_WORKERS="4" and ARAGORA_PROVIDER_WORKERS="1": are two names for one setting and disagree; expected one of them, or both set to the same value',
    ]);
  });

  test("a bad value is reported under the name it was given", () => {
    expect(() => loadConfig({ ARAGORA_WORKERS: "many" })).toThrow(/ARAGORA_WORKERS="many"/);
    expect(() => loadConfig({ ARAGORA_PROVIDER_WORKERS: "many" })).toThrow(/ARAGORA_PROVIDER_WORKERS="many"/);
  });
});

describe("OAuth sign-in settings", () => {
  const google = {
    GOOGLE_OAUTH_CLIENT_ID: "1234-abc.apps.googleusercontent.com",
    GOOGLE_OAUTH_CLIENT_SECRET: "google-secret-value-9f2e",
    GOOGLE_OAUTH_REDIRECT_URI: "https://aragora.example.com/api/auth/oauth/google/callback",
  };
  const oidc = {
    OIDC_OAUTH_ISSUER: "https://login.example.com",
    OIDC_OAUTH_CLIENT_ID: "aragora",
    OIDC_OAUTH_CLIENT_SECRET: "oidc-secret-value-77aa",
    OIDC_OAUTH_REDIRECT_URI: "https://aragora.example.com/api/auth/oauth/oidc/callback",
  };

  test("by default no provider is configured and a sign-in lands on / (errors too), on this site only", () => {
    const config = loadConfig({});
    expect(config.googleOauthClientId).toBeUndefined();
    expect(config.oidcOauthIssuer).toBeUndefined();
    expect([config.oauthSuccessUrl, config.oauthErrorUrl]).toEqual(["/", "/"]);
    expect(config.oauthAllowedRedirectHosts).toEqual([]);
    expect(config.oauthStateTtlSeconds).toBe(600);
  });

  test("a provider's variables are set all together", () => {
    const config = loadConfig({ ...google, ...oidc });
    expect(config.googleOauthRedirectUri).toBe(google.GOOGLE_OAUTH_REDIRECT_URI);
    expect(config.oidcOauthIssuer).toBe("https://login.example.com");
    const { GOOGLE_OAUTH_CLIENT_SECRET: _secret, ...partial } = google;
    expect(problems(partial)).toEqual([
      "GOOGLE_OAUTH_CLIENT_SECRET: is required with GOOGLE_OAUTH_CLIENT_ID, GOOGLE_OAUTH_REDIRECT_URI; expected all of GOOGLE_OAUTH_CLIENT_ID, GOOGLE_OAUTH_CLIENT_SECRET, GOOGLE_OAUTH_REDIRECT_URI, or none",
    ]);
    expect(problems({ OIDC_OAUTH_CLIENT_SECRET: oidc.OIDC_OAUTH_CLIENT_SECRET })).toEqual([
      "OIDC_OAUTH_ISSUER, OIDC_OAUTH_CLIENT_ID, OIDC_OAUTH_REDIRECT_URI: are required with OIDC_OAUTH_CLIENT_SECRET; expected all of OIDC_OAUTH_ISSUER, OIDC_OAUTH_CLIENT_ID, OIDC_OAUTH_CLIENT_SECRET, OIDC_OAUTH_REDIRECT_URI, or none",
    ]);
  });

  test("the callback URL must reach this provider's callback route, over https (http only on loopback)", () => {
    const bad = (uri: string) => problems({ ...google, GOOGLE_OAUTH_REDIRECT_URI: uri });
    expect(bad("https://aragora.example.com/api/auth/oauth/oidc/callback")).toHaveLength(1);
    expect(bad("http://aragora.example.com/api/auth/oauth/google/callback")).toHaveLength(1);
    expect(bad("/api/auth/oauth/google/callback")).toHaveLength(1);
    expect(bad("http://127.0.0.1:8080/api/auth/oauth/google/callback")).toEqual([]);
    expect(bad("https://example.com/aragora/api/auth/oauth/google/callback")).toEqual([]);
    // A bad value is reported once, not again as "missing".
    expect(bad("ftp://x")[0]).toStartWith('GOOGLE_OAUTH_REDIRECT_URI="ftp://x": must be an https URL ending in');
  });

  test("the issuer is an https URL (http only on loopback) without query or fragment", () => {
    const bad = (issuer: string) => problems({ ...oidc, OIDC_OAUTH_ISSUER: issuer });
    expect(bad("http://login.example.com")).toHaveLength(1);
    expect(bad("https://login.example.com/?tenant=1")).toHaveLength(1);
    expect(bad("https://login.example.com/tenants/42")).toEqual([]);
    expect(bad("http://127.0.0.1:9000")).toEqual([]);
  });

  test("landing pages: a path here, or a URL on OAUTH_ALLOWED_REDIRECT_HOSTS", () => {
    expect(loadConfig({ OAUTH_SUCCESS_URL: "/app", OAUTH_ERROR_URL: "/sign-in?x=1" }).oauthErrorUrl).toBe(
      "/sign-in?x=1",
    );
    const allowed = loadConfig({
      OAUTH_ALLOWED_REDIRECT_HOSTS: "App.Example.com, admin.example.com:8443",
      OAUTH_SUCCESS_URL: "https://app.example.com/welcome",
      OAUTH_ERROR_URL: "https://admin.example.com:8443/oops",
    });
    expect(allowed.oauthAllowedRedirectHosts).toEqual(["app.example.com", "admin.example.com:8443"]);
    expect(problems({ OAUTH_SUCCESS_URL: "https://app.example.com/welcome" })).toEqual([
      'OAUTH_SUCCESS_URL="https://app.example.com/welcome": its host is not in OAUTH_ALLOWED_REDIRECT_HOSTS; expected a path on this site, or a URL on one of the allowed hosts (none)',
    ]);
    expect(
      problems({
        OAUTH_ALLOWED_REDIRECT_HOSTS: "admin.example.com:8443",
        OAUTH_ERROR_URL: "https://admin.example.com/",
      }),
    ).toHaveLength(1);
    for (const bad of ["//evil.example", "/\\evil.example", "javascript:alert(1)", "http://app.example.com/"]) {
      expect(problems({ OAUTH_ALLOWED_REDIRECT_HOSTS: "app.example.com", OAUTH_SUCCESS_URL: bad })).toHaveLength(1);
    }
    expect(problems({ OAUTH_ALLOWED_REDIRECT_HOSTS: "app.example.com/path" })).toHaveLength(1);
  });

  test("client secrets are never echoed", () => {
    const { GOOGLE_OAUTH_CLIENT_ID: _id, ...partial } = google;
    expect(problems(partial).join("\n")).not.toContain(google.GOOGLE_OAUTH_CLIENT_SECRET);
  });
});

describe("ARAGORA_ENCRYPTION_KEY", () => {
  const key = (c: string) => c.repeat(64);

  test("one key or a list, newest first: the first encrypts", () => {
    expect(loadConfig({}).encryptionKeys).toBeUndefined();
    const ring = loadConfig({ ARAGORA_ENCRYPTION_KEY: `${key("a")},${key("b")}` }).encryptionKeys;
    expect(ring?.ids).toHaveLength(2);
    expect(ring?.active.id).toBe(ring?.ids[0] as string);
    expect(ring?.active.id).toMatch(/^k[0-9a-f]{12}$/);
  });

  test("a malformed value is named with the expected form and never echoed", () => {
    const secretish = `${"c".repeat(63)}z`;
    for (const value of [secretish, `${key("d")},${secretish}`, "", `${key("e")},${key("e")}`]) {
      const found = problems({ ARAGORA_ENCRYPTION_KEY: value });
      expect(found).toHaveLength(1);
      expect(found[0]).toStartWith("ARAGORA_ENCRYPTION_KEY:");
      expect(found[0]).not.toContain("cccccccc");
      expect(found[0]).not.toContain("dddddddd");
      expect(found[0]).not.toContain("eeeeeeee");
    }
    expect(problems({ ARAGORA_ENCRYPTION_KEY: secretish })[0]).toContain("expected exactly 64 hex characters");
  });
});
