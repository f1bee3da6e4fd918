import { describe, expect, test } from "bun:test";
import { safeReturnTo } from "./redirect-guard.ts";

const policy = { allowedHosts: ["app.example.com", "admin.example.com:8443"], fallback: "/signed-in" };
const check = (value: unknown) => safeReturnTo(value, policy);

describe("safeReturnTo: paths on this site", () => {
  test.each([
    ["/", "/"],
    ["/debates/42?tab=log#round-3", "/debates/42?tab=log#round-3"],
    ["/search?q=a%20b", "/search?q=a%20b"],
    ["/debates/a%2Fb", "/debates/a%2Fb"],
    ["/a/./b/../c", "/a/c"],
    ["/?next=//evil.com", "/?next=//evil.com"],
  ])("%s is kept (as %s)", (value, expected) => {
    expect(check(value)).toBe(expected);
  });
});

describe("safeReturnTo: absolute URLs on allowed hosts", () => {
  test.each([
    ["https://app.example.com/home", "https://app.example.com/home"],
    ["HTTPS://APP.EXAMPLE.COM/Home", "https://app.example.com/Home"],
    ["https://app.example.com:9000/x", "https://app.example.com:9000/x"],
    ["https://admin.example.com:8443/", "https://admin.example.com:8443/"],
  ])("%s is kept", (value, expected) => {
    expect(check(value)).toBe(expected);
  });

  test("plain http only on a loopback host that is allowed", () => {
    const local = { allowedHosts: ["127.0.0.1:5173", "localhost", "app.example.com"], fallback: "/" };
    expect(safeReturnTo("http://127.0.0.1:5173/app", local)).toBe("http://127.0.0.1:5173/app");
    expect(safeReturnTo("http://localhost:3000/", local)).toBe("http://localhost:3000/");
    expect(safeReturnTo("http://app.example.com/", local)).toBe("/");
    expect(safeReturnTo("http://127.0.0.1:9999/", local)).toBe("/");
  });

  test("a host:port entry allows that port only", () => {
    expect(check("https://admin.example.com/")).toBe("/signed-in");
    expect(check("https://admin.example.com:8444/")).toBe("/signed-in");
  });

  test("with no allowed hosts, every absolute URL falls back", () => {
    expect(safeReturnTo("https://app.example.com/", { allowedHosts: [], fallback: "/" })).toBe("/");
  });
});

describe("safeReturnTo: the classic open-redirect payloads fall back", () => {
  test.each([
    // Protocol-relative and its disguises.
    "//evil.com",
    "///evil.com",
    "////evil.com/",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    " //evil.com",
    "//app.example.com@evil.com",
    // Dot segments collapsing into a leading //.
    "/..//evil.com",
    "/a/../..//evil.com",
    "/.//evil.com",
    "/%2e%2e//evil.com",
    // Encoded variants.
    "/%2F%2Fevil.com",
    "/%2f/evil.com",
    "/%5Cevil.com",
    "/%5C%5Cevil.com",
    "/%09/evil.com",
    "/%252F%252Fevil.com",
    "/%252525252F%252525252Fevil.com",
    "%2F%2Fevil.com",
    "/%E0%A4%A",
    // Another host, or ours only in appearance.
    "https://evil.com",
    "https://evil.com/app.example.com",
    "https://app.example.com@evil.com",
    "https://app.example.com:443@evil.com/",
    "https://app.example.com%2F@evil.com",
    "https://app.example.com%40evil.com",
    "https://app.example.com.evil.com",
    "https://evilapp.example.com",
    "https://app.example.com.",
    "https://app.example.com%2eevil.com",
    "https://user:pass@app.example.com/",
    "https:evil.com",
    "https:/evil.com",
    "http://app.example.com/",
    "ftp://app.example.com/",
    // Scripts and other schemes.
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "javascript://app.example.com/%0Aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    // Not a path at all.
    "evil.com",
    "app.example.com/home",
    "?x=1",
    "#top",
    "",
  ])("%p", (payload) => {
    expect(check(payload)).toBe("/signed-in");
  });

  test("non-strings and oversized values fall back", () => {
    expect(check(undefined)).toBe("/signed-in");
    expect(check(null)).toBe("/signed-in");
    expect(check(["/home"])).toBe("/signed-in");
    expect(check(`/${"a".repeat(2048)}`)).toBe("/signed-in");
  });
});
