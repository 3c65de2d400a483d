// Nobody who does not belong can watch a session. Detention-centre staff manage
// the schedule, clerks burn discs, the office reads figures, auditors read the
// trail, administrators run accounts: none of them gets any right to join a
// booking's session, by any route of the server's own registry or by any
// handshake. Table-driven: every GET route of the registry (and every route
// under guest links) is called as each of them, everything they are handed is
// tried as a join right, and the booking's session must not gain a party.
// The attack of before (staff fetching the prosecutor's join link) is
// test/attack-staff-watches.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest } from './helpers/http.js';
import { connect, send, type TestSocket } from './helpers/client.js';
import { makeUser, signIn, type SignedIn } from './helpers/accounts.js';
import { guestSocket, issueGuestLink, redeem } from './helpers/guests.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { loadConfig } from '../server/config.js';
import type { Role } from '../server/access/roles.js';

const base = loadConfig({ env: {} });
const allDay = ['00:00-24:00'];
const overrides = { schedule: { ...base.schedule, weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } } };
const today = new SiteClock(base.site.timeZone).local().date;
const offsetMs = new SiteClock(base.site.timeZone).toEpochMs(today, 10 * 60) - Date.now();
const clock = new SiteClock(base.site.timeZone, () => Date.now() + offsetMs);
const now = clock.local();

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let bookingId: string;
/** A second booking with no guest link yet: one could be issued for it (by its prosecutor only). */
let freeId: string;
let linkId: string;
let prosecutor: SignedIn;
const sockets: TestSocket[] = [];

/** Everyone who manages, files or oversees, but does not belong in the hearing. */
const outsiders: readonly Role[] = ['detention_staff', 'evidence_clerk', 'office', 'auditor', 'administrator'];

function personSocket(cookie: string): Promise<TestSocket> {
  const socket: TestSocket = io(server.url, { auth: { kind: 'person' }, extraHeaders: { cookie }, transports: ['websocket'], reconnection: false, timeout: 5000 });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** The parties of the booking's session (the room agent is not there in this test). */
const parties = () => server.registry.forBooking(bookingId)?.partyList().map((p) => `${p.role}:${p.displayName}`) ?? [];

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false, overrides, clock });
  prosecutor = await signIn(server, await makeUser(server, ['prosecutor'], { id: 'P-N1' }));
  const staff = await signIn(server, await makeUser(server, ['detention_staff']));
  const start = Math.ceil((now.minute + 10) / 5) * 5;
  const made = await staff.call('POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: start, prosecutorId: 'P-N1', lawyerRole: 'defence', lawyerId: 'L-N1', roomId: 'plea-1' }));
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  bookingId = String(made.body['id']);
  expect((await staff.call('POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' })).status).toBe(200);
  const free = await staff.call('POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: start, caseNumber: 'FREE-1', detaineeId: 'D-FREE', prosecutorId: 'P-N2', lawyerRole: 'defence', lawyerId: 'L-N2', roomId: 'plea-2' }));
  expect(free.status, JSON.stringify(free.body)).toBe(201);
  freeId = String(free.body['id']);
  await waitFor('session open', () => server.registry.forBooking(bookingId));
  // A guest link exists (issued and bound by its own guest), so there is something to try to get at.
  const link = await issueGuestLink(prosecutor, bookingId, 'defence_lawyer', '辩护律师 N');
  linkId = link.linkId;
  expect((await redeem(server.url, link.secret, link.code)).status).toBe(200);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.cleanup();
});

describe('staff, clerks, the office, auditors and administrators get no join right', () => {
  it.each(outsiders)('%s: no route of the registry, no handshake', async (role) => {
    const me = await signIn(server, await makeUser(server, [role]));
    const handed: string[] = [];
    const cookies: string[] = [];
    const concrete = (url: string, id: string) => url.replace(/:id\b/g, id).replace(/:linkId\b/g, linkId).replace(/:[A-Za-z]+/g, 'x').replace(/\*$/, 'index.html');
    const routes = server.access.routes().filter((r) => r.method === 'GET' || (r.method === 'POST' && /guest/.test(r.url) && !/revoke/.test(r.url)));
    // The registry really has the routes this is about.
    expect(routes.map((r) => `${r.method} ${r.url}`)).toEqual(expect.arrayContaining(['GET /api/bookings/:id/guest-links', 'POST /api/bookings/:id/guest-links', 'POST /api/guest/redeem', 'GET /api/bookings/:id']));
    for (const r of routes) for (const id of [bookingId, freeId]) {
      for (const body of r.method === 'POST' ? [{ role: 'defence_lawyer', guestName: 'x' }, { role: 'bail_suspect', guestName: 'x' }, { secret: 'x', code: '000000' }] : [undefined]) {
        const res = await fetch(`${server.url}${concrete(r.url, id)}`, {
          method: r.method,
          headers: { ...me.headers(), ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : null,
        });
        const text = await res.text();
        if (r.method === 'POST') expect(res.status, `${r.method} ${r.url} ${JSON.stringify(body)}`).not.toBe(201);
        handed.push(text);
        const set = res.headers.get('set-cookie');
        if (set) cookies.push(set.split(';')[0] as string);
      }
    }
    // Nothing they were handed is a join right: join tokens, guest secrets, guest cookies.
    const everything = handed.join('\n');
    expect(everything).not.toMatch(/\/guest#|session\?token=/);
    for (const token of new Set(everything.match(/[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/g) ?? [])) {
      const s = await connect(server.url, { kind: 'party', token }).catch(() => null);
      if (s) {
        sockets.push(s);
        expect((await send(s, 'session:join', { bookingId })).ok, 'a token handed out joined').toBe(false);
      }
    }
    for (const secret of new Set(everything.match(/\b[A-Za-z0-9_-]{43}\b/g) ?? [])) {
      expect((await redeem(server.url, secret, '000000')).cookie).toBeNull();
    }
    for (const cookie of [me.cookie, ...cookies]) await expect(guestSocket(server.url, `${me.cookie}; ${cookie}`, sockets)).rejects.toThrow();
    // Their own account: refused at the join.
    const s = await personSocket(me.cookie);
    const joined = await send(s, 'session:join', { bookingId });
    expect(joined.ok).toBe(false);
    // A schedule board joins nothing (staff only have one).
    const board = await connect(server.url, { kind: 'board' }).catch(() => null);
    if (board) {
      sockets.push(board);
      expect((await send(board, 'session:join', { bookingId })).ok).toBe(false);
    }
    expect(parties()).toEqual([]);
    // They issued no guest link.
    expect((server.db.prepare('SELECT count(*) AS n FROM guest_links WHERE booking_id = ?').get(bookingId) as { n: number }).n).toBe(1);
    expect((server.db.prepare('SELECT count(*) AS n FROM guest_links WHERE booking_id = ?').get(freeId) as { n: number }).n).toBe(0);
  });
});
