import { expect, test } from "bun:test";
import { addressGroup } from "./address-group.ts";

test("IPv4 alone; IPv6 by its /64, however it is written", () => {
  expect(addressGroup("192.0.2.1")).toBe("192.0.2.1");
  expect(addressGroup("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
  expect(addressGroup("2001:0db8:0001:0002:ffff:ffff:ffff:fffe")).toBe("2001:db8:1:2::/64");
  expect(addressGroup("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
  expect(addressGroup("::1")).toBe("::/64");
  expect(addressGroup("unknown")).toBe("unknown");
});
