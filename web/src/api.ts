// REST calls of the home page. Shapes follow the server's /api/site,
// /api/auth/me and /api/me/bookings; HealthReport and the role names come from
// the server's shared modules (types only).
import type { HealthReport } from '../../server/signalling/protocol';
import type { Role } from '../../server/access/roles';

export type RoomKind = 'interrogation' | 'plea';

export interface SiteRoom {
  id: string;
  kind: RoomKind;
  name: string;
  nameEn: string;
  status: 'active' | 'out_of_service';
  session: { sessionId: string; parties: number } | null;
  agent: { online: boolean; health: HealthReport | null };
}

export interface SiteView {
  name: string;
  rooms: SiteRoom[];
}

/** The signed-in person (GET /api/auth/me). */
export interface Me {
  user: { id: string; username: string; displayName: string; organisationId: string; roles: Role[]; mustChangePassword: boolean };
  csrfToken: string;
}

/** A booking the signed-in person may join (GET /api/me/bookings): the server's join rules answer. */
export interface MyBooking {
  bookingId: string;
  date: string;
  roomId: string;
  roomName: string;
  roomNameEn: string;
  start: number;
  end: number;
  status: string;
  caseNumber: string;
  sessionKind: string;
  role: 'prosecutor' | 'lawyer' | 'guest';
  basis: 'booked' | 'department';
  windowOpens: string;
  windowCloses: string;
  joinable: boolean;
  sessionOpen: boolean;
  why: string | null;
}

export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

async function getJson(url: string, signal?: AbortSignal): Promise<unknown> {
  const response = await fetch(url, { headers: { accept: 'application/json' }, signal });
  if (!response.ok) throw new HttpError(response.status, `${url}: HTTP ${response.status}`);
  return response.json() as Promise<unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export async function fetchSite(signal?: AbortSignal): Promise<SiteView> {
  const body = await getJson('/api/site', signal);
  if (!isObject(body) || typeof body.name !== 'string' || !Array.isArray(body.rooms)) {
    throw new Error('/api/site: unexpected reply');
  }
  return body as unknown as SiteView;
}

/** Who is signed in, or null (401). */
export async function fetchMe(signal?: AbortSignal): Promise<Me | null> {
  try {
    const body = await getJson('/api/auth/me', signal);
    if (!isObject(body) || !isObject(body.user)) throw new Error('/api/auth/me: unexpected reply');
    return body as unknown as Me;
  } catch (error) {
    if (error instanceof HttpError && error.status === 401) return null;
    throw error;
  }
}

export async function fetchMyBookings(signal?: AbortSignal): Promise<MyBooking[]> {
  const body = await getJson('/api/me/bookings', signal);
  if (!isObject(body) || !Array.isArray(body.bookings)) throw new Error('/api/me/bookings: unexpected reply');
  return body.bookings as MyBooking[];
}

export async function logout(csrfToken: string): Promise<void> {
  await fetch('/api/auth/logout', { method: 'POST', headers: { 'x-csrf-token': csrfToken } });
}

/** A department head's allowance (GET /api/department/allowances). */
export interface Allowance {
  id: string;
  granteeId: string;
  granteeName: string;
  grantedAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  inForce: boolean;
}

export interface Allowances {
  departmentId: string | null;
  /** This person heads the department: may grant and revoke. */
  head: boolean;
  /** The department's prosecutors the head may allow. */
  members: Array<{ id: string; displayName: string }>;
  allowances: Allowance[];
}

export async function fetchAllowances(signal?: AbortSignal): Promise<Allowances> {
  const body = await getJson('/api/department/allowances', signal);
  if (!isObject(body) || !Array.isArray(body.allowances)) throw new Error('/api/department/allowances: unexpected reply');
  return body as unknown as Allowances;
}

async function write(method: 'POST' | 'DELETE', url: string, csrfToken: string, body?: unknown): Promise<void> {
  const res = await fetch(url, {
    method,
    headers: { 'x-csrf-token': csrfToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) {
    const text = await res.text();
    let message = `HTTP ${res.status}`;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (isObject(parsed) && typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not JSON
    }
    throw new HttpError(res.status, message);
  }
}

export function grantAllowance(csrfToken: string, granteeId: string, expiresAt: string | null): Promise<void> {
  return write('POST', '/api/department/allowances', csrfToken, { granteeId, expiresAt });
}

export function revokeAllowance(csrfToken: string, id: string): Promise<void> {
  return write('DELETE', `/api/department/allowances/${encodeURIComponent(id)}`, csrfToken);
}
