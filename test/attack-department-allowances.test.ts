// Attacks on department allowances. First: a department head grants a stand-in allowance whose expiresAt is
// written with a time-zone offset (ISO 8601 date-time, as the schema accepts:
// "…+14:00"). The join rules compared expires_at with now as strings, so an
// allowance already expired by the clock went on admitting the stand-in for up
// to 14 more hours (its view said inForce false the whole time). Joins go
// through the real signalling with the person's session cookie.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { startTestServer } from './helpers/server.js';
import { send, type TestSocket } from './helpers/client.js';
import { ensureOrganisation, makeUser, signIn, type SignedIn } from './helpers/accounts.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { loadConfig } from '../server/config.js';

const base = loadConfig({ env: {} });
const allDay = ['00:00-24:00'];
const overrides = { schedule: { ...base.schedule, weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } } };
const today = new SiteClock(base.site.timeZone).local().date;
const offsetMs = new SiteClock(base.site.timeZone).toEpochMs(today, 10 * 60) - Date.now();
const clock = new SiteClock(base.site.timeZone, () => Date.now() + offsetMs);

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let bookingId: string;
let head: SignedIn;
let colleague: SignedIn;
let admin: SignedIn;
const sockets: TestSocket[] = [];

async function tryJoin(s: SignedIn): Promise<{ ok: boolean; code: string }> {
  const socket: TestSocket = io(server.url, { auth: { kind: 'person' }, extraHeaders: { cookie: s.cookie }, transports: ['websocket'], reconnection: false, timeout: 5000 });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const r = await send(socket, 'session:join', { bookingId });
  socket.close();
  return r.ok ? { ok: true, code: 'ok' } : { ok: false, code: r.error.code };
}

/** The instant `ms` written as local time at +14:00 (a valid RFC 3339 date-time). */
const at14 = (ms: number) => `${new Date(ms + 14 * 3_600_000).toISOString().slice(0, 23)}+14:00`;

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false, overrides, clock });
  ensureOrganisation(server);
  server.accounts.store.addOrganisation({ id: 'dept-1', name: 'dept-1', nameEn: 'dept-1', kind: 'department', parentId: 'site' }, 'test');
  const mk = async (id: string) => signIn(server, await makeUser(server, ['prosecutor'], { id, organisationId: 'dept-1', displayName: `检察官 ${id}` }));
  head = await mk('P-HEAD');
  await mk('P-BOOKED');
  colleague = await mk('P-COLLEAGUE');
  admin = await signIn(server, await makeUser(server, ['administrator']));
  const now = clock.local();
  const out = server.schedule.create({
    requestId: 'r-1', caseNumber: '某检刑诉〔2026〕8号', detaineeId: 'D-8', procuratorateId: '本院', priorityClass: 'district', prosecutorId: 'P-BOOKED',
    sessionKind: 'plea_hearing', date: now.date, requestedStart: Math.ceil((now.minute + 5) / 5) * 5, durationMin: 30, lawyerRole: 'defence', lawyerId: 'L-1', roomId: 'plea-1',
  }, 'test');
  if (!out.ok) throw new Error(`booking not placed: ${JSON.stringify(out)}`);
  bookingId = out.booking.id;
  await server.schedule.advance(bookingId, 'in_room', 'test');
  expect((await admin.call('PUT', '/api/admin/departments/dept-1/head', { userId: 'P-HEAD' })).status).toBe(200);
}, 60_000);
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.cleanup();
});

describe('attack: an allowance expiring at a time written with a +14:00 offset', () => {
  it('stops admitting the stand-in when it expires by the clock, as its own view says', async () => {
    const expiresAt = at14(clock.nowMs() + 1500);
    const granted = await head.call<{ id: string; expiresAt: string | null }>('POST', '/api/department/allowances', { granteeId: 'P-COLLEAGUE', expiresAt });
    expect(granted.status).toBe(201);
    // Stored as the instant it names, in one form (UTC), so every comparison agrees.
    expect(granted.body.expiresAt).toBe(new Date(expiresAt).toISOString());
    expect(await tryJoin(colleague)).toEqual({ ok: true, code: 'ok' });
    await new Promise((r) => setTimeout(r, 1700));
    const own = await colleague.call<{ allowances: Array<{ id: string; inForce: boolean }> }>('GET', '/api/department/allowances');
    expect(own.body.allowances.find((a) => a.id === granted.body.id)?.inForce).toBe(false);
    expect(await tryJoin(colleague)).toEqual({ ok: false, code: 'forbidden' });
    const mine = await colleague.call<{ bookings: Array<{ bookingId: string }> }>('GET', '/api/me/bookings');
    expect(mine.body.bookings.map((b) => b.bookingId)).not.toContain(bookingId);
  });
});

describe('attack: granting across departments, granting oneself, revoking as a colleague', () => {
  const refused = () => (server.db.prepare("SELECT count(*) AS n FROM audit_entries WHERE action = 'department.allowance_refused'").get() as { n: number }).n;
  it('each is refused and each refusal is in the audit trail', async () => {
    server.accounts.store.addOrganisation({ id: 'dept-2', name: 'dept-2', nameEn: 'dept-2', kind: 'department', parentId: 'site' }, 'test');
    await makeUser(server, ['prosecutor'], { id: 'P-OTHER-DEPT', organisationId: 'dept-2' });
    let before = refused();
    expect((await head.call('POST', '/api/department/allowances', { granteeId: 'P-OTHER-DEPT' })).status).toBe(400);
    expect(refused()).toBe(before + 1);
    before = refused();
    expect((await head.call('POST', '/api/department/allowances', { granteeId: 'P-HEAD' })).status).toBe(400);
    expect(refused()).toBe(before + 1);
    const granted = await head.call<{ id: string }>('POST', '/api/department/allowances', { granteeId: 'P-COLLEAGUE' });
    expect(granted.status).toBe(201);
    before = refused();
    expect((await colleague.call('DELETE', `/api/department/allowances/${granted.body.id}`)).status).toBe(403);
    expect(refused()).toBe(before + 1);
    expect(server.audit.verify()).toBeNull();
  });
});
