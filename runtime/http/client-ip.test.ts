import { describe, expect, test } from "bun:test";
import { clientAddressResolver, UNKNOWN_ADDRESS } from "./client-ip.ts";

describe("client address", () => {
  test("without trusted proxies X-Forwarded-For is ignored", () => {
    const addressOf = clientAddressResolver([]);
    expect(addressOf("192.0.2.1", "198.51.100.7")).toBe("192.0.2.1");
    expect(addressOf("::ffff:192.0.2.1", null)).toBe("192.0.2.1");
    expect(addressOf(undefined, "198.51.100.7")).toBe(UNKNOWN_ADDRESS);
  });

  test("from a peer that is not a trusted proxy the header is ignored", () => {
    const addressOf = clientAddressResolver(["10.0.0.0/8"]);
    expect(addressOf("203.0.113.5", "198.51.100.7")).toBe("203.0.113.5");
  });

  test("through trusted proxies: the rightmost address that is not one of them", () => {
    const addressOf = clientAddressResolver(["10.0.0.0/8", "2001:db8::/32", "192.0.2.9"]);
    expect(addressOf("10.1.2.3", "198.51.100.7")).toBe("198.51.100.7");
    // A client's own X-Forwarded-For comes first; the proxy appends the address it saw.
    expect(addressOf("10.1.2.3", "1.1.1.1, 198.51.100.7")).toBe("198.51.100.7");
    expect(addressOf("10.1.2.3", "1.1.1.1, 198.51.100.7, 192.0.2.9,10.0.0.2")).toBe("198.51.100.7");
    expect(addressOf("2001:db8::1", "2001:db8::2, 2606:4700::1111")).toBe("2606:4700::1111");
    expect(addressOf("::ffff:10.1.2.3", "::ffff:198.51.100.7")).toBe("198.51.100.7");
  });

  test("a chain of trusted proxies only: the leftmost; garbage stops the walk at the last trusted hop", () => {
    const addressOf = clientAddressResolver(["10.0.0.0/8"]);
    expect(addressOf("10.1.2.3", "10.0.0.5, 10.0.0.6")).toBe("10.0.0.5");
    expect(addressOf("10.1.2.3", "198.51.100.7, not-an-ip")).toBe("10.1.2.3");
    expect(addressOf("10.1.2.3", "not-an-ip, 10.0.0.9")).toBe("10.0.0.9");
    expect(addressOf("10.1.2.3", "")).toBe("10.1.2.3");
  });
});

test("numbers that are not dotted decimal are not addresses in X-Forwarded-For", () => {
  const addressOf = clientAddressResolver(["10.0.0.0/8"]);
  expect(addressOf("10.1.2.3", "198.51.100.7, 167772161")).toBe("10.1.2.3");
});
