// Small JSON HTTP helpers for API tests.
export interface JsonReply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** A request as staff with `key` (none: unauthenticated). */
export async function call<T = Record<string, unknown>>(base: string, method: string, path: string, body?: unknown, key?: string): Promise<JsonReply<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** A plea-hearing request for 09:15 on a weekday, overridable. */
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
    date: '2026-11-27',
    requestedStart: 555,
    durationMin: 12,
    ...over,
  };
}
