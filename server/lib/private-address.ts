// --webhook-block-private: whether a URL nod is about to POST to (an agent's
// webhook, a browser's push endpoint) names or resolves to a loopback,
// private, link-local or otherwise non-public address.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/** How host names are resolved (tests replace it to play a rebinding DNS server). */
export const resolver = {
  lookup: async (host: string): Promise<{ address: string; family: number }[]> => lookup(host, { all: true, verbatim: true }),
};

/**
 * With --webhook-block-private: a description of why the URL's host is not
 * allowed (it is, or resolves to, a loopback, private, link-local or otherwise
 * non-public address), or null when every address it resolves to is public.
 */
export async function privateDestination(url: string): Promise<string | null> {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return "blocked: not a valid URL";
  }
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await resolver.lookup(host)).map((r) => r.address);
    } catch (e) {
      return null; // unresolvable: the POST itself fails with a connection error
    }
  }
  const bad = addresses.find(isPrivateAddress);
  return bad ? `blocked: ${host} resolves to non-public address ${bad} (--webhook-block-private)` : null;
}

/**
 * Whether an address is anything but public unicast (ipaddr.js's ranges:
 * loopback, private, link-local, unique-local, CGNAT, multicast, reserved,
 * unspecified…). IPv4-mapped and IPv4-compatible forms count as their IPv4
 * address (in hex spelling they are refused); forms that carry an IPv4
 * address to translate (NAT64, IPv4-translated) are refused, and 6to4 is
 * judged by the address it embeds. (Teredo counts as public, as before.)
 */
export function isPrivateAddress(addr: string): boolean {
  if (!ipaddr.isValid(addr)) return true;
  const ip = ipaddr.process(addr); // ::ffff:a.b.c.d and ::a.b.c.d become a.b.c.d
  const range = ip.range();
  if (ip.kind() === "ipv6") {
    const parts = (ip as ipaddr.IPv6).parts;
    // ::/96 in hex spelling (::7f00:1): the deprecated IPv4-compatible form, never a public destination.
    if (parts.slice(0, 6).every((w) => w === 0)) return true;
    if (range === "6to4") return isPrivateAddress(`${parts[1]! >> 8}.${parts[1]! & 255}.${parts[2]! >> 8}.${parts[2]! & 255}`);
  }
  return range !== "unicast" && range !== "teredo";
}
