// A prosecutor joins only the bookings they are booked on, or their
// department's when the department's head allows it: the allowance is granted
// by the head (nobody else), audited, revocable, may expire, and lapses when
// the head changes; a prosecutor of another department never stands in.
// Joins go through the real signalling (person handshake, session cookie); the
// home page's list (GET /api/me/bookings) gives the same answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
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
const people: Record<'head' | 'booked' | 'colleague' | 'other' | 'admin', SignedIn> = {} as never;
const sockets: TestSocket[] = [];

function personSocket(s: SignedIn): Promise<TestSocket> {
  const socket: TestSocket = io(server.url, { auth: { kind: 'person' }, extraHeaders: { cookie: s.cookie }, transports: ['websocket'], reconnection: false, timeout: 5000 });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** Tries to join the booking as this person through the signalling; leaves again when admitted. */
async function tryJoin(s: SignedIn): Promise<{ ok: boolean; code: string }> {
  const socket = await personSocket(s);
  const r = await send(socket, 'session:join', { bookingId });
  socket.close();
  return r.ok ? { ok: true, code: 'ok' } : { ok: false, code: r.error.code };
}

async function listed(s: SignedIn): Promise<{ bookingId: string; basis: string; joinable: boolean } | undefined> {
  const out = await s.call<{ bookings: Array<{ bookingId: string; basis: string; joinable: boolean }> }>('GET', '/api/me/bookings');
  expect(out.status).toBe(200);
  return out.body.bookings.find((b) => b.bookingId === bookingId);
}

const auditCount = (action: string) => (server.db.prepare('SELECT count(*) AS n FROM audit_entries WHERE action = ?').get(action) as { n: number }).n;

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false, overrides, clock });
  ensureOrganisation(server);
  for (const id of ['dept-1', 'dept-2']) server.accounts.store.addOrganisation({ id, name: id, nameEn: id, kind: 'department', parentId: 'site' }, 'test');
  const mk = async (id: string, org: string) => signIn(server, await makeUser(server, ['prosecutor'], { id, organisationId: org, displayName: `检察官 ${id}` }));
  people.head = await mk('P-HEAD', 'dept-1');
  people.booked = await mk('P-BOOKED', 'dept-1');
  people.colleague = await mk('P-COLLEAGUE', 'dept-1');
  people.other = await mk('P-OTHER', 'dept-2');
  people.admin = await signIn(server, await makeUser(server, ['administrator']));
  const now = clock.local();
  const out = server.schedule.create({
    requestId: 'r-1', caseNumber: '某检刑诉〔2026〕7号', detaineeId: 'D-7', procuratorateId: '本院', priorityClass: 'district', prosecutorId: 'P-BOOKED',
    sessionKind: 'plea_hearing', date: now.date, requestedStart: Math.ceil((now.minute + 5) / 5) * 5, durationMin: 30, lawyerRole: 'defence', lawyerId: 'L-1', roomId: 'plea-1',
  }, 'test');
  if (!out.ok) throw new Error(`booking not placed: ${JSON.stringify(out)}`);
  bookingId = out.booking.id;
  await server.schedule.advance(bookingId, 'in_room', 'test');
}, 60_000);
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.cleanup();
});

describe('department delegation', () => {
  it('without the head’s allowance a colleague of the department is refused and does not see the booking', async () => {
    expect(await tryJoin(people.booked)).toEqual({ ok: true, code: 'ok' });
    expect(await tryJoin(people.colleague)).toEqual({ ok: false, code: 'forbidden' });
    expect(await listed(people.colleague)).toBeUndefined();
  });

  it('nobody but the head may allow it, and a department has a head only when an administrator appoints one', async () => {
    // No head yet: not even the future head may grant.
    expect((await people.head.call('POST', '/api/department/allowances', { granteeId: 'P-COLLEAGUE' })).status).toBe(403);
    // The administrator appoints a prosecutor of the department, never one of another.
    expect((await people.admin.call('PUT', '/api/admin/departments/dept-1/head', { userId: 'P-OTHER' })).status).toBe(400);
    expect((await people.admin.call('PUT', '/api/admin/departments/site/head', { userId: 'P-HEAD' })).status).toBe(400);
    expect((await people.head.call('PUT', '/api/admin/departments/dept-1/head', { userId: 'P-HEAD' })).status).toBe(403);
    const appointed = await people.admin.call('PUT', '/api/admin/departments/dept-1/head', { userId: 'P-HEAD' });
    expect(appointed.status).toBe(200);
    // Another prosecutor cannot grant themselves, or anyone, an allowance.
    expect((await people.colleague.call('POST', '/api/department/allowances', { granteeId: 'P-COLLEAGUE' })).status).toBe(403);
    expect(await tryJoin(people.colleague)).toEqual({ ok: false, code: 'forbidden' });
    // The head cannot allow a prosecutor of another department.
    expect((await people.head.call('POST', '/api/department/allowances', { granteeId: 'P-OTHER' })).status).toBe(400);
  });

  it('an allowance row not granted by the head is not honoured', async () => {
    // Written straight into the database as if the colleague had granted it to themselves (not the head).
    server.db.prepare('INSERT INTO department_allowances (id, department_id, grantee_id, granted_by, granted_at) VALUES (?, ?, ?, ?, ?)').run(randomUUID(), 'dept-1', 'P-COLLEAGUE', 'P-COLLEAGUE', new Date().toISOString());
    expect(await tryJoin(people.colleague)).toEqual({ ok: false, code: 'forbidden' });
    expect(await listed(people.colleague)).toBeUndefined();
  });

  let allowanceId = '';
  it('with the head’s allowance the colleague joins as the prosecutor, listed as the department’s booking; audited', async () => {
    const before = auditCount('department.allowance_granted');
    const granted = await people.head.call<{ id: string; inForce: boolean }>('POST', '/api/department/allowances', { granteeId: 'P-COLLEAGUE', note: '王检察官出差' });
    expect(granted.status).toBe(201);
    expect(granted.body.inForce).toBe(true);
    allowanceId = granted.body.id;
    expect(auditCount('department.allowance_granted')).toBe(before + 1);
    expect(await listed(people.colleague)).toMatchObject({ basis: 'department', joinable: true });
    expect(await tryJoin(people.colleague)).toEqual({ ok: true, code: 'ok' });
    // The join is audited under the stand-in's own name, as the prosecutor.
    const joined = server.db.prepare("SELECT detail FROM audit_entries WHERE action = 'party.joined' ORDER BY seq DESC LIMIT 1").get() as { detail: string };
    expect(JSON.parse(joined.detail)).toMatchObject({ role: 'prosecutor', displayName: '检察官 P-COLLEAGUE' });
    // The allowance is for the head's department only: the other department's prosecutor is still refused.
    expect(await tryJoin(people.other)).toEqual({ ok: false, code: 'forbidden' });
    // The grantee sees their allowance; the head sees the department's.
    const own = await people.colleague.call<{ head: boolean; allowances: Array<{ id: string }> }>('GET', '/api/department/allowances');
    expect(own.body.head).toBe(false);
    expect(own.body.allowances.map((a) => a.id)).toContain(allowanceId);
  });

  it('revoked by the head: refused again, and audited', async () => {
    expect((await people.colleague.call('DELETE', `/api/department/allowances/${allowanceId}`)).status).toBe(403);
    const revoked = await people.head.call<{ revokedAt: string | null; inForce: boolean }>('DELETE', `/api/department/allowances/${allowanceId}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.inForce).toBe(false);
    expect(auditCount('department.allowance_revoked')).toBe(1);
    expect(await tryJoin(people.colleague)).toEqual({ ok: false, code: 'forbidden' });
    expect(await listed(people.colleague)).toBeUndefined();
  });

  it('an expired allowance is not honoured, and an allowance lapses when the department gets another head', async () => {
    const soon = await people.head.call<{ id: string }>('POST', '/api/department/allowances', { granteeId: 'P-COLLEAGUE', expiresAt: new Date(clock.nowMs() + 1500).toISOString() });
    expect(soon.status).toBe(201);
    expect(await tryJoin(people.colleague)).toEqual({ ok: true, code: 'ok' });
    await new Promise((r) => setTimeout(r, 1700));
    expect(await tryJoin(people.colleague)).toEqual({ ok: false, code: 'forbidden' });

    expect((await people.head.call('POST', '/api/department/allowances', { granteeId: 'P-COLLEAGUE' })).status).toBe(201);
    expect(await tryJoin(people.colleague)).toEqual({ ok: true, code: 'ok' });
    expect((await people.admin.call('PUT', '/api/admin/departments/dept-1/head', { userId: 'P-BOOKED' })).status).toBe(200);
    expect(await tryJoin(people.colleague)).toEqual({ ok: false, code: 'forbidden' });
    expect(auditCount('department.head_appointed')).toBe(2);
    expect(server.audit.verify()).toBeNull();
  });
});
