// Joining is personal: a signed-in prosecutor joins only the bookings they are
// booked on, a lawyer only the booking they defend or witness, nobody outside the
// booking's window; display names come from the account; one live party per
// person and role (a second join replaces the first, whose page is told); the
// party's remote address is recorded; a join link never joins a booking (guest
// links do: test/guest-links.test.ts); a live party is told, then removed, when
// its window ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { connect, send, type TestSocket } from './helpers/client.js';
import { makeUser, signIn, type SignedIn } from './helpers/accounts.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { loadConfig } from '../server/config.js';
import { staffOf } from './helpers/staff.js';

const base = loadConfig({ env: {} });
const allDay = ['00:00-24:00'];
const overrides = { schedule: { ...base.schedule, weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } } };
// The site's clock at 10:00 of today, running on: the test runs the same at any hour.
const today = new SiteClock(base.site.timeZone).local().date;
const offsetMs = new SiteClock(base.site.timeZone).toEpochMs(today, 10 * 60) - Date.now();
const clock = new SiteClock(base.site.timeZone, () => Date.now() + offsetMs);
const now = clock.local();

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let bookingId: string;
let laterId: string;
const people: Record<string, SignedIn> = {};
const sockets: TestSocket[] = [];

function personSocket(s: SignedIn): Promise<TestSocket> {
  const socket: TestSocket = io(server.url, { auth: { kind: 'person' }, extraHeaders: { cookie: s.cookie }, transports: ['websocket'], reconnection: false, timeout: 5000 });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}
const key = () => staffOf(server);
const errorOf = (r: Awaited<ReturnType<typeof send>>) => (r.ok ? { code: 'ok', message: '' } : r.error);

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false, overrides, clock });
  for (const [name, roles, id] of [
    ['pros', ['prosecutor'], 'P-J1'],
    ['otherPros', ['prosecutor'], 'P-J2'],
    ['lawyer', ['defence_lawyer'], 'L-J1'],
    ['clerk', ['evidence_clerk'], 'C-J1'],
    ['staff', ['detention_staff'], 'S-J1'],
  ] as const) {
    people[name] = await signIn(server, await makeUser(server, [...roles], { id, displayName: `账户名 ${id}` }));
  }
  const start = Math.ceil((now.minute + 10) / 5) * 5;
  const made = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: start, prosecutorId: 'P-J1', lawyerRole: 'defence', lawyerId: 'L-J1', roomId: 'plea-1' }), await key());
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  bookingId = String(made.body['id']);
  expect((await call(server.url, 'POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' }, await key())).status).toBe(200);
  // Two hours later: its window has not opened.
  const later = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: start + 120, caseNumber: 'LATER-1', detaineeId: 'D-LATER', prosecutorId: 'P-J1', lawyerRole: 'defence', lawyerId: 'L-J1', roomId: 'plea-2' }), await key());
  expect(later.status, JSON.stringify(later.body)).toBe(201);
  laterId = String(later.body['id']);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.cleanup();
});

describe('joining as a signed-in person', () => {
  it('refuses a handshake without a signed-in session', async () => {
    await expect(connect(server.url, { kind: 'person' })).rejects.toThrow(/sign in first/);
  });

  it('admits the booked prosecutor and lawyer under their account names, with their address recorded', async () => {
    const pros = await personSocket(people['pros']!);
    const joined = await send(pros, 'session:join', { bookingId });
    expect(joined.ok).toBe(true);
    const lawyer = await personSocket(people['lawyer']!);
    const lj = await send(lawyer, 'session:join', { bookingId });
    expect(lj.ok).toBe(true);
    const session = server.registry.forBooking(bookingId)!;
    const parties = session.partyList().map((p) => [p.role, p.displayName]).sort();
    expect(parties).toEqual([['lawyer', '账户名 L-J1'], ['prosecutor', '账户名 P-J1']]);
    const rows = server.db.prepare('SELECT role, remote_address FROM parties WHERE session_id = ?').all(session.id) as Array<{ role: string; remote_address: string }>;
    expect(rows.map((r) => r.remote_address)).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('never takes a display name from the client', async () => {
    const s = await personSocket(people['lawyer']!);
    expect((await send(s, 'session:join', { bookingId, displayName: '检察官1' })).ok).toBe(true);
    const names = server.registry.forBooking(bookingId)!.partyList().map((p) => p.displayName);
    expect(names).not.toContain('检察官1');
    expect(names).toContain('账户名 L-J1');
  });

  it('refuses people not booked on it, whatever their role, and audits each refusal', async () => {
    const before = (server.db.prepare("SELECT count(*) AS n FROM audit_entries WHERE action = 'join.refused'").get() as { n: number }).n;
    for (const name of ['otherPros', 'clerk', 'staff']) {
      const s = await personSocket(people[name]!);
      const e = errorOf(await send(s, 'session:join', { bookingId }));
      expect(e.code, name).toBe('forbidden');
      s.close();
    }
    const after = (server.db.prepare("SELECT count(*) AS n FROM audit_entries WHERE action = 'join.refused'").get() as { n: number }).n;
    // Refusals are audited, throttled per address (a loop cannot flood the trail).
    expect(after - before).toBeGreaterThanOrEqual(1);
    expect(server.registry.forBooking(bookingId)!.partyList()).toHaveLength(2);
  });

  it('refuses the booked prosecutor outside the booking\'s window', async () => {
    const s = await personSocket(people['pros']!);
    const e = errorOf(await send(s, 'session:join', { bookingId: laterId }));
    expect(e.code).toBe('forbidden');
    expect(e.message).toMatch(/opens at/);
    s.close();
  });

  it('a second join by the same person replaces the first, and the first page is told', async () => {
    const session = server.registry.forBooking(bookingId)!;
    const first = session.partyList().find((p) => p.role === 'prosecutor')!;
    const firstSocket = sockets.find((s) => s.connected)!; // the prosecutor's first socket
    const told = new Promise<{ partyId: string; reason: string }>((resolve) => firstSocket.on('party:left', (info) => info.partyId === first.id && resolve(info)));
    const second = await personSocket(people['pros']!);
    expect((await send(second, 'session:join', { bookingId })).ok).toBe(true);
    expect(await told).toEqual({ partyId: first.id, reason: 'replaced' });
    expect(session.partyList().filter((p) => p.role === 'prosecutor')).toHaveLength(1);
    expect(first.closed).toBe(true);
  });
});

describe('join links', () => {
  it('a join link made for a booking is refused, even one signed by the server: a booking is joined by account or guest link', async () => {
    const t = Date.now();
    const token = server.tokens.issue({ roomId: 'plea-1', role: 'guest', bookingId, displayName: '来宾', nbf: t - 1000, exp: t + 600_000 });
    await expect(connect(server.url, { kind: 'party', token })).rejects.toThrow(/does not join a booking/);
    expect(server.registry.forBooking(bookingId)!.partyList().some((p) => p.role === 'guest')).toBe(false);
  });
});

describe('the window on live parties', () => {
  it('tells a party when its window ends and removes it after the grace', async () => {
    const session = server.registry.forBooking(bookingId)!;
    const party = session.addParty('guest', 'window test', { personKey: 'test:window', remoteAddress: null, until: new Date(Date.now() + 300) }, 400);
    const events: string[] = [];
    party.on('window-ending', () => events.push('told'));
    party.once('closed', (reason) => events.push(`closed:${reason}`));
    await waitFor('removal', () => party.closed, 5000, 50);
    expect(events).toEqual(['told', 'closed:removed']);
  });
});
