// The client's address of a request, exactly as Fastify derives `request.ip`
// under `http.trustProxy`: the socket's peer, unless that peer is a trusted
// proxy, and then the X-Forwarded-For chain walked from the right through
// trusted proxies only. The Socket.io edge uses it for the handshake request,
// so parties and room agents are audited, bound and limited by the same
// address the HTTP routes see (a client cannot claim an address by sending
// its own X-Forwarded-For when it is not behind a trusted proxy).
import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/** The config's `http.trustProxy`: false, true (every hop), or a comma-separated list of addresses and CIDRs ('loopback' etc.). */
export type TrustProxy = boolean | string;

type TrustFn = (addr: string, hop: number) => boolean;

/** The same trust function Fastify builds from the option (fastify/lib/request.js getTrustProxyFn, for the kinds our config takes). */
export function trustFunction(trust: TrustProxy | undefined): TrustFn | null {
  if (trust === undefined || trust === false) return null;
  if (trust === true) return () => true;
  const values = trust.split(',').map((v) => v.trim()).filter(Boolean);
  return values.length ? proxyAddr.compile(values) : null;
}

const normalise = (address: string): string => (address.startsWith('::ffff:') ? address.slice(7) : address);

/** The client's address (IPv4-mapped IPv6 written as IPv4), '' when the socket has none. */
export function clientAddress(req: IncomingMessage, trust: TrustFn | null): string {
  if (!trust) return normalise(req.socket.remoteAddress ?? '');
  const chain = proxyAddr.all(req, trust);
  return normalise(chain[chain.length - 1] ?? '');
}
