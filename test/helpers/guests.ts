// Guests for tests: guest links issued by a booking's prosecutor over HTTP,
// redeemed as a guest's browser would (secret from the link's fragment, the code
// typed in), and the guest device's socket (its cookie in the handshake).
import { io } from 'socket.io-client';
import type { SignedIn } from './accounts.js';
import type { TestSocket } from './client.js';

export interface IssuedLink {
  linkId: string;
  url: string;
  secret: string;
  code: string;
}

/** The booking's prosecutor issues a guest link; fails the test when refused. */
export async function issueGuestLink(prosecutor: SignedIn, bookingId: string, role: 'defence_lawyer' | 'bail_suspect', guestName: string): Promise<IssuedLink> {
  const out = await prosecutor.call<{ link: { id: string }; url: string; code: string }>('POST', `/api/bookings/${bookingId}/guest-links`, { role, guestName });
  if (out.status !== 201) throw new Error(`guest link refused: ${out.status} ${JSON.stringify(out.body)}`);
  const secret = new URL(out.body.url).hash.slice(1);
  return { linkId: out.body.link.id, url: out.body.url, secret, code: out.body.code };
}

export interface Redeemed {
  status: number;
  body: Record<string, unknown>;
  /** The device cookie (name=value) the server set, if any. */
  cookie: string | null;
}

/** A device redeems a link; `cookie`: what that device already holds. */
export async function redeem(base: string, secret: string, code: string, cookie?: string | null): Promise<Redeemed> {
  const res = await fetch(`${base}/api/guest/redeem`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
    body: JSON.stringify({ secret, code }),
  });
  const set = res.headers.get('set-cookie');
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, cookie: set ? (set.split(';')[0] as string) : null };
}

/** A guest device's socket; rejects with the server's reason when the handshake is refused. */
export function guestSocket(base: string, cookie: string | null, track?: TestSocket[]): Promise<TestSocket> {
  const socket: TestSocket = io(base, { auth: { kind: 'guest' }, ...(cookie ? { extraHeaders: { cookie } } : {}), transports: ['websocket'], reconnection: false, timeout: 5000 });
  track?.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** A code that is not `code` (same length). */
export function wrongCode(code: string): string {
  return code === '000000' ? '000001' : '000000';
}
