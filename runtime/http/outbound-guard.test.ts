import { describe, expect, test } from "bun:test";
import { loadConfig } from "../config.ts";
import { OutboundError } from "./outbound.ts";
import { classifyAddress, describeRefusal } from "./outbound-address.ts";
import { type OutboundPolicy, outboundPolicyOf, validateOutboundUrl, vetOutboundTarget } from "./outbound-guard.ts";

const strict: OutboundPolicy = { allowLoopback: false, requireHttps: false };
const loose: OutboundPolicy = { allowLoopback: true, requireHttps: false };
const production: OutboundPolicy = { allowLoopback: false, requireHttps: true };

/** Every class of address a request must not reach, in each form an attacker could write it. */
const REFUSED: Array<[string, string]> = [
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["10.0.0.1", "private"],
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["192.168.1.1", "private"],
  ["169.254.1.1", "link-local"],
  ["169.254.169.254", "metadata"],
  ["169.254.170.2", "metadata"],
  ["100.100.100.200", "metadata"],
  ["100.64.0.1", "carrier-grade-nat"],
  ["100.127.255.254", "carrier-grade-nat"],
  ["224.0.0.1", "multicast"],
  ["239.255.255.250", "multicast"],
  ["0.0.0.0", "unspecified"],
  ["0.1.2.3", "unspecified"],
  ["255.255.255.255", "broadcast"],
  ["240.0.0.1", "reserved"],
  ["192.0.2.1", "reserved"],
  ["198.18.0.1", "reserved"],
  ["198.51.100.1", "reserved"],
  ["203.0.113.1", "reserved"],
  ["192.0.0.8", "reserved"],
  ["::1", "loopback"],
  ["::", "unspecified"],
  ["fe80::1", "link-local"],
  ["fc00::1", "private"],
  ["fd12:3456::1", "private"],
  ["fd00:ec2::254", "metadata"],
  ["ff02::1", "multicast"],
  ["2001:db8::1", "reserved"],
  ["fec0::1", "reserved"],
  ["100::1", "reserved"],
  ["3fff::1", "reserved"],
  ["64:ff9b:1::1", "reserved"],
  ["5f00::1", "reserved"],
  ["2001:2::1", "reserved"],
  // IPv6 forms carrying an internal IPv4 address.
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["::ffff:10.0.0.1", "private"],
  ["::ffff:169.254.169.254", "metadata"],
  ["::ffff:0:127.0.0.1", "loopback"],
  ["::7f00:1", "loopback"],
  ["::a00:1", "private"],
  ["::808:808", "reserved"],
  ["64:ff9b::127.0.0.1", "loopback"],
  ["64:ff9b::a9fe:a9fe", "metadata"],
  ["2002:7f00:1::1", "loopback"],
  ["2002:c0a8:101::1", "private"],
  // Teredo: client 127.0.0.1 stored inverted (80ff:fffe); server 65.54.227.120 public.
  ["2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"],
  // Teredo with a private server address.
  ["2001:0:a00:1:8000:63bf:f7f7:f7f7", "private"],
];

const ALLOWED: Array<[string, string]> = [
  ["8.8.8.8", "8.8.8.8"],
  ["93.184.215.14", "93.184.215.14"],
  ["2606:4700:4700::1111", "2606:4700:4700::1111"],
  ["::ffff:8.8.8.8", "8.8.8.8"],
  ["64:ff9b::808:808", "64:ff9b::808:808"],
  ["2002:808:808::1", "2002:808:808::1"],
  ["100.63.255.255", "100.63.255.255"],
  ["172.32.0.1", "172.32.0.1"],
];

describe("classifyAddress: the SSRF table", () => {
  for (const [address, cls] of REFUSED) {
    test(`${address} is refused as ${cls}`, () => {
      const verdict = classifyAddress(address);
      expect(verdict.allowed).toBe(false);
      if (!verdict.allowed) expect(verdict.class).toBe(cls as never);
    });
  }
  for (const [address, connect] of ALLOWED) {
    test(`${address} is public (connect to ${connect})`, () => {
      expect(classifyAddress(address)).toEqual({ allowed: true, address: connect });
    });
  }

  test("text that is not an address is refused", () => {
    expect(classifyAddress("example.com").allowed).toBe(false);
    expect(classifyAddress("fe80::1%eth0").allowed).toBe(false);
  });

  test("a refusal says which form carried which address", () => {
    const verdict = classifyAddress("::ffff:127.0.0.1");
    expect(verdict.allowed).toBe(false);
    if (!verdict.allowed) {
      expect(describeRefusal(verdict)).toBe("::ffff:7f00:1 is an IPv4-mapped form of 127.0.0.1, a loopback address");
    }
    const nat = classifyAddress("64:ff9b::a00:1");
    if (!nat.allowed)
      expect(describeRefusal(nat)).toBe("64:ff9b::a00:1 is a NAT64 form of 10.0.0.1, a private network address");
  });
});

describe("validateOutboundUrl: registration-time checks", () => {
  const cases: Array<[string, OutboundPolicy, string]> = [
    ["http://127.0.0.1:8080/hook", strict, "loopback"],
    // The WHATWG parser reads every IPv4 spelling as the address it is.
    ["http://2130706433/", strict, "loopback"],
    ["http://0x7f.0.0.1/", strict, "loopback"],
    ["http://017700000001/", strict, "loopback"],
    ["http://127.1/", strict, "loopback"],
    ["http://[::1]/", strict, "loopback"],
    ["http://[::ffff:127.0.0.1]/", strict, "loopback"],
    ["http://[::ffff:a9fe:a9fe]/latest", strict, "metadata"],
    ["http://localhost/", strict, "loopback"],
    ["http://LOCALHOST./", strict, "loopback"],
    ["http://api.localhost:3000/", strict, "loopback"],
    ["http://169.254.169.254/latest/meta-data/", strict, "metadata"],
    ["http://metadata.google.internal/computeMetadata/v1/", strict, "metadata"],
    ["http://Metadata.Google.Internal./", strict, "metadata"],
    ["http://10.1.2.3/", strict, "private"],
    ["http://100.64.1.1/", strict, "carrier-grade-nat"],
    ["http://[fd00:ec2::254]/", strict, "metadata"],
    ["http://0.0.0.0:8080/", strict, "unspecified"],
    ["ftp://example.com/x", strict, "scheme"],
    ["file:///etc/passwd", strict, "scheme"],
    ["gopher://example.com:70/", strict, "scheme"],
    ["javascript:alert(1)", strict, "scheme"],
    ["https://user:secret@example.com/", strict, "credentials"],
    ["https://user@example.com/", strict, "credentials"],
    ["http://example.com/hook", production, "insecure"],
    ["not a url", strict, "invalid-url"],
    ["/relative/path", strict, "invalid-url"],
    [`https://example.com/${"a".repeat(2100)}`, strict, "invalid-url"],
    // Loopback allowed for development: the rest stays refused.
    ["http://10.0.0.1/", loose, "private"],
    ["http://169.254.169.254/", loose, "metadata"],
    ["http://[::ffff:10.0.0.1]/", loose, "private"],
    ["http://metadata.google.internal/", loose, "metadata"],
  ];
  for (const [url, policy, rule] of cases) {
    test(`${url.slice(0, 60)} is refused (${rule})${policy === loose ? " with loopback allowed" : ""}`, () => {
      const check = validateOutboundUrl(url, policy);
      expect(check.ok).toBe(false);
      if (!check.ok) {
        expect(check.rule).toBe(rule as never);
        expect(check.reason.length).toBeGreaterThan(10);
      }
    });
  }

  test("public URLs pass, and loopback ones when loopback is allowed", () => {
    expect(validateOutboundUrl("https://hooks.slack.com/services/T0/B0/x", production).ok).toBe(true);
    expect(validateOutboundUrl("http://example.com:8080/hook?x=1", strict).ok).toBe(true);
    expect(validateOutboundUrl("https://8.8.8.8/", production).ok).toBe(true);
    for (const url of ["http://127.0.0.1:9/", "http://localhost:9/", "http://[::1]:9/", "http://[::ffff:127.0.0.1]/"]) {
      expect({ url, ok: validateOutboundUrl(url, loose).ok }).toEqual({ url, ok: true });
    }
  });

  test("reasons are fit for a 422: they say what is wrong without a stack", () => {
    const check = validateOutboundUrl("http://[::ffff:169.254.169.254]/", strict);
    expect(check).toEqual({
      ok: false,
      rule: "metadata",
      reason:
        "must reach a public address: ::ffff:a9fe:a9fe is an IPv4-mapped form of 169.254.169.254, a cloud metadata service address",
    });
  });
});

describe("vetOutboundTarget: the name resolved once, every answer checked", () => {
  const resolver = (answers: Record<string, string[]>) => async (host: string) => {
    const found = answers[host];
    if (found === undefined) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
    return found;
  };

  const refusal = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (err) {
      return err;
    }
    throw new Error("expected a refusal");
  };

  test("a name resolving to an internal address is refused, with the class but not the address", async () => {
    for (const [answer, cls] of [
      ["127.0.0.1", "loopback"],
      ["10.0.0.7", "private"],
      ["169.254.169.254", "metadata"],
      ["::ffff:192.168.0.1", "private"],
      ["fd00::1", "private"],
    ] as const) {
      const err = await refusal(
        vetOutboundTarget("https://inside.example/x", strict, resolver({ "inside.example": [answer] })),
      );
      expect(err).toBeInstanceOf(OutboundError);
      expect({ kind: (err as OutboundError).kind, reason: (err as OutboundError).reason }).toEqual({
        kind: "refused",
        reason: cls,
      });
      expect((err as OutboundError).message).not.toContain(answer);
    }
  });

  test("one internal answer among public ones refuses the name", async () => {
    const err = await refusal(
      vetOutboundTarget("https://mixed.example/", strict, resolver({ "mixed.example": ["8.8.8.8", "127.0.0.1"] })),
    );
    expect((err as OutboundError).reason).toBe("loopback");
  });

  test("the first answer is the address to connect to; a mapped one as its IPv4", async () => {
    const target = await vetOutboundTarget(
      "https://ok.example/x?y=1",
      strict,
      resolver({ "ok.example": ["::ffff:8.8.4.4", "8.8.8.8"] }),
    );
    expect(target.address).toBe("8.8.4.4");
    expect(target.url.hostname).toBe("ok.example");
  });

  test("a name that does not resolve is a dns error", async () => {
    const err = await refusal(vetOutboundTarget("https://nowhere.example/", strict, resolver({})));
    expect((err as OutboundError).kind).toBe("dns");
    const empty = await refusal(vetOutboundTarget("https://empty.example/", strict, resolver({ "empty.example": [] })));
    expect((empty as OutboundError).kind).toBe("dns");
  });

  test("address literals are checked without resolving", async () => {
    let asked = 0;
    const counting = async () => {
      asked++;
      return ["8.8.8.8"];
    };
    expect((await vetOutboundTarget("http://8.8.8.8/", strict, counting)).address).toBe("8.8.8.8");
    expect(((await refusal(vetOutboundTarget("http://[::1]/", strict, counting))) as OutboundError).reason).toBe(
      "loopback",
    );
    expect(asked).toBe(0);
  });
});

describe("the policy from the configuration", () => {
  test("loopback is refused by default, https required in production", () => {
    expect(outboundPolicyOf(loadConfig({}))).toEqual({ allowLoopback: false, requireHttps: false });
    expect(outboundPolicyOf(loadConfig({ ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true" }))).toEqual({
      allowLoopback: true,
      requireHttps: false,
    });
    const prod = loadConfig({ ARAGORA_ENV: "production", ARAGORA_JWT_SECRET: "x".repeat(32) });
    expect(outboundPolicyOf(prod)).toEqual({ allowLoopback: false, requireHttps: true });
  });

  test("allowing loopback in production is a configuration error", () => {
    expect(() =>
      loadConfig({
        ARAGORA_ENV: "production",
        ARAGORA_JWT_SECRET: "x".repeat(32),
        ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true",
      }),
    ).toThrow(/ARAGORA_OUTBOUND_ALLOW_LOOPBACK="true": is refused when ARAGORA_ENV=production/);
    expect(() => loadConfig({ ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "yes" })).toThrow(/ARAGORA_OUTBOUND_ALLOW_LOOPBACK/);
  });
});
