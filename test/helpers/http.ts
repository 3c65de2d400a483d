// Small JSON HTTP helpers for API tests.
export interface JsonReply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/**
 * Who calls: a key sent as `Authorization: Bearer <key>` (an API token), or a
 * signed-in person (test/helpers/accounts.ts SignedIn: the cookie, and the CSRF
 * token on writes).
 */
export type Caller = string | { headers(write: boolean): Record<string, string> };

/** A request as `as` (none: unauthenticated). */
export async function call<T = Record<string, unknown>>(base: string, method: string, path: string, body?: unknown, as?: Caller): Promise<JsonReply<T>> {
  const who = typeof as === 'string' ? { authorization: `Bearer ${as}` } : as ? as.headers(!['GET', 'HEAD'].includes(method.toUpperCase())) : {};
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...who, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

const TZ = 'Asia/Shanghai';

/** The site's date `offset` days from today (site time zone of the default config). */
export function siteDay(offset = 0): string {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  const [y, m, d] = today.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + offset)).toISOString().slice(0, 10);
}

/** The first Monday–Friday at least `minOffset` days from today: inside the schedule's horizon, with working windows. */
export function workday(minOffset = 2): string {
  for (let k = minOffset; ; k++) {
    const date = siteDay(k);
    const wd = new Date(`${date}T00:00:00Z`).getUTCDay();
    if (wd >= 1 && wd <= 5) return date;
  }
}

/** A plea-hearing request for 09:15 on the next workday (two days ahead or later), overridable. */
export function bookingRequest(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    caseNumber: 'A-2026-001',
    detaineeId: 'D-001',
    procuratorateId: 'district-01',
    priorityClass: 'district',
    prosecutorId: 'pros-001',
    lawyerRole: 'defence',
    lawyerId: 'law-001',
    sessionKind: 'plea_hearing',
    date: workday(),
    requestedStart: 555,
    durationMin: 12,
    ...over,
  };
}
