// A room agent's credential may be bound to the room PC's address: a list of
// IP addresses and CIDR ranges (matched with the same library Fastify uses for
// trustProxy). An empty list: not bound.
import { isIP } from 'node:net';
import proxyAddr from '@fastify/proxy-addr';

/** Whether `value` is an IPv4/IPv6 address or a CIDR range of one. */
export function isAddressOrRange(value: string): boolean {
  const [ip, bits, ...rest] = value.split('/');
  if (rest.length || !ip) return false;
  const family = isIP(ip);
  if (!family) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  if (Number(bits) > (family === 4 ? 32 : 128)) return false;
  // Whatever passes here must compile in the matcher: proxy-addr refuses some ranges this syntax allows (a /0, "every
  // address", is one), and a stored range it throws on kept the room's agent out at every handshake.
  try {
    proxyAddr.compile([value]);
    return true;
  } catch {
    return false;
  }
}

/** A matcher for the list (undefined: not bound, every address passes). */
export function addressMatcher(list: readonly string[]): ((address: string) => boolean) | undefined {
  if (!list.length) return undefined;
  const match = proxyAddr.compile([...list]);
  return (address) => address !== '' && match(address, 0);
}
