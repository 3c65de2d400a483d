// REST of guest links for the pages: managing a booking's links (its prosecutor,
// signed in: cookie + CSRF token; staff through their board's own client) and a
// guest's own device redeeming its link. Shapes come from the server's TypeBox
// schemas (types only). No Vue here.
import type { Static } from 'typebox';
import type { GuestLinkList, GuestLinkView, GuestRole as GuestRoleSchema, GuestSelf, IssuedGuestLink } from '../../../server/access/guest-api';

export type GuestLinks = Static<typeof GuestLinkList>;
export type GuestLink = Static<typeof GuestLinkView>;
export type GuestRole = Static<typeof GuestRoleSchema>;
export type Issued = Static<typeof IssuedGuestLink>;
export type GuestSelfView = Static<typeof GuestSelf>;

export class GuestApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'GuestApiError';
  }
}

/** What the links panel needs: the staff board supplies its own client, the prosecutor's pages this one. */
export interface GuestLinkApi {
  list(bookingId: string, signal?: AbortSignal): Promise<GuestLinks>;
  issue?(bookingId: string, role: GuestRole, guestName: string): Promise<Issued>;
  revoke(bookingId: string, linkId: string): Promise<GuestLink>;
}

async function json<T>(method: 'GET' | 'POST', url: string, body: unknown, headers: Record<string, string>, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: { accept: 'application/json', ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    ...(signal ? { signal } : {}),
    credentials: 'same-origin',
  });
  const text = await response.text();
  let payload: unknown = null;
  try {
    payload = text ? (JSON.parse(text) as unknown) : null;
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const p = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
    throw new GuestApiError(response.status, typeof p['error'] === 'string' ? p['error'] : 'http', typeof p['message'] === 'string' ? p['message'] : `HTTP ${response.status}`);
  }
  return payload as T;
}

/** A signed-in person's guest-link calls (the session cookie; the CSRF token from /api/auth/me on writes). */
export class SignedInGuestLinkApi implements GuestLinkApi {
  private csrf: Promise<string> | null = null;

  private csrfToken(): Promise<string> {
    this.csrf ??= json<{ csrfToken: string }>('GET', '/api/auth/me', undefined, {}).then(
      (me) => me.csrfToken,
      (err: unknown) => {
        this.csrf = null;
        throw err;
      }
    );
    return this.csrf;
  }

  list(bookingId: string, signal?: AbortSignal): Promise<GuestLinks> {
    return json('GET', `/api/bookings/${encodeURIComponent(bookingId)}/guest-links`, undefined, {}, signal);
  }

  async issue(bookingId: string, role: GuestRole, guestName: string): Promise<Issued> {
    return json('POST', `/api/bookings/${encodeURIComponent(bookingId)}/guest-links`, { role, guestName }, { 'x-csrf-token': await this.csrfToken() });
  }

  async revoke(bookingId: string, linkId: string): Promise<GuestLink> {
    return json('POST', `/api/bookings/${encodeURIComponent(bookingId)}/guest-links/${encodeURIComponent(linkId)}/revoke`, undefined, { 'x-csrf-token': await this.csrfToken() });
  }
}

/** The guest's own device: what its link is for, and redeeming it (the server sets the device cookie). */
export const guestDevice = {
  me(signal?: AbortSignal): Promise<GuestSelfView> {
    return json('GET', '/api/guest/me', undefined, {}, signal);
  },
  redeem(secret: string, code: string): Promise<GuestSelfView> {
    return json('POST', '/api/guest/redeem', { secret, code }, {});
  },
};
