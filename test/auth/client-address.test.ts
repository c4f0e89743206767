// The address sign-ins are counted by: IPv4 as it is, an IPv6 client by its /64, however the
// address is written (worker/auth/client-address.ts).
import { describe, expect, it } from "vitest";
import { addressKey, UNKNOWN_ADDRESS } from "../../worker/auth/client-address";

describe("addressKey", () => {
  it("keeps an IPv4 address", () => {
    expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
  });

  it("counts every address of an IPv6 /64 as one client, however it is written", () => {
    const key = "2001:db8:1:2::/64";
    for (const ip of ["2001:db8:1:2::1", "2001:0DB8:0001:0002:ffff:ffff:ffff:ffff", "2001:db8:1:2:0:0:0:7", "[2001:db8:1:2::9]", "2001:db8:1:2::1%eth0"]) {
      expect(addressKey(ip)).toBe(key);
    }
    expect(addressKey("2001:db8:1:3::1")).not.toBe(key);
  });

  it("reads an IPv4-mapped IPv6 address as the IPv4 client", () => {
    expect(addressKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("::ffff:cb00:7107")).toBe("203.0.113.7");
  });

  it("puts what is not an address, or none, under one key", () => {
    for (const ip of [null, "", "not an address", "1.2.3", "1.2.3.256", "1::2::3", "12345::1"]) expect(addressKey(ip)).toBe(UNKNOWN_ADDRESS);
  });
});
