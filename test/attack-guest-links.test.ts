// Attacks on guest links, over real HTTP and Socket.io against a real server:
// - someone who saw the link (not its code: that is sent separately) sends wrong
//   codes to lock out the guest whose device already holds it, mid-hearing;
// - a prosecutor issues, lists or revokes the guest links of a booking that is
//   not theirs: refused, and the refusal must be in the audit trail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest } from './helpers/http.js';
import { send, type TestSocket } from './helpers/client.js';
import { makeUser, signIn, type SignedIn } from './helpers/accounts.js';
import { guestSocket, issueGuestLink, redeem, wrongCode } from './helpers/guests.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { loadConfig } from '../server/config.js';
import { MAX_WRONG_CODES } from '../server/access/guest-links.js';

const base = loadConfig({ env: {} });
const allDay = ['00:00-24:00'];
const overrides = { schedule: { ...base.schedule, weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } } };
const today = new SiteClock(base.site.timeZone).local().date;
const offsetMs = new SiteClock(base.site.timeZone).toEpochMs(today, 10 * 60) - Date.now();
const clock = new SiteClock(base.site.timeZone, () => Date.now() + offsetMs);
const now = clock.local();

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
const people: Record<string, SignedIn> = {};
const sockets: TestSocket[] = [];
let bookingId: string;

const refusals = (actor: string, subject: string) =>
  (server.db.prepare("SELECT count(*) AS n FROM audit_entries WHERE action = 'guest_link.refused' AND actor = ? AND subject = ?").get(actor, subject) as { n: number }).n;

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false, overrides, clock });
  for (const [name, roles, id] of [
    ['pros', ['prosecutor'], 'P-AG1'],
    ['otherPros', ['prosecutor'], 'P-AG2'],
    ['staff', ['detention_staff'], 'S-AG1'],
  ] as const) {
    people[name] = await signIn(server, await makeUser(server, [...roles], { id, displayName: `账户名 ${id}` }));
  }
  const made = await people['staff']!.call('POST', '/api/bookings', bookingRequest({ date: now.date, prosecutorId: 'P-AG1', lawyerRole: 'defence', lawyerId: 'L-AG-NOACCOUNT', requestedStart: Math.ceil((now.minute + 10) / 5) * 5, roomId: 'plea-1' }));
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  bookingId = String(made.body['id']);
  expect((await people['staff']!.call('POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' })).status).toBe(200);
  await waitFor('session open', () => server.registry.forBooking(bookingId));
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.cleanup();
});

describe('attack: whoever saw the link locks the bound guest out with wrong codes', () => {
  it('another device sending wrong codes to a bound link is refused as in use, counts nothing, and the guest stays in', async () => {
    const link = await issueGuestLink(people['pros']!, bookingId, 'defence_lawyer', '辩护律师 锁定');
    const device = await redeem(server.url, link.secret, link.code);
    expect(device.status).toBe(200);
    const s = await guestSocket(server.url, device.cookie, sockets);
    expect((await send(s, 'session:join', {})).ok).toBe(true);
    // The attacker has the link (from a forwarded message), not the code, and tries more than the lock allows.
    for (let i = 0; i < MAX_WRONG_CODES + 2; i++) {
      const r = await redeem(server.url, link.secret, wrongCode(link.code));
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body['error']).toBe('in_use');
      expect(r.cookie).toBeNull();
    }
    const current = server.guestLinks.current(link.linkId)!;
    expect(current.state).toBe('bound');
    expect(current.wrongCodes).toBe(0);
    // The guest's device is still its link's: it asks, rejoins after a drop, and opens its link again.
    const me = await fetch(`${server.url}/api/guest/me`, { headers: { cookie: device.cookie! } });
    expect(me.status).toBe(200);
    s.disconnect();
    const again = await guestSocket(server.url, device.cookie, sockets);
    expect((await send(again, 'session:join', {})).ok).toBe(true);
    expect((await redeem(server.url, link.secret, link.code, device.cookie)).status).toBe(200);
    // The refusals are audited (throttled per link: no lock bounds them).
    expect((server.db.prepare("SELECT count(*) AS n FROM audit_entries WHERE action = 'guest_link.refused' AND detail LIKE ?").get(`%${link.linkId}%`) as { n: number }).n).toBeGreaterThanOrEqual(1);
    // Its own device with wrong codes still counts towards the lock.
    expect((await redeem(server.url, link.secret, wrongCode(link.code), device.cookie)).body['error']).toBe('wrong_code');
    expect(server.guestLinks.current(link.linkId)!.wrongCodes).toBe(1);
    await people['pros']!.call('POST', `/api/bookings/${bookingId}/guest-links/${link.linkId}/revoke`);
  });
});

describe("attack: a prosecutor manages the guest links of a booking not theirs", () => {
  it('issuing, listing and revoking are refused, and each refusal is in the audit trail under their name', async () => {
    const subject = `booking:${bookingId}`;
    const actor = 'user:' + (server.db.prepare("SELECT username FROM users WHERE id = 'P-AG2'").get() as { username: string }).username;
    const before = refusals(actor, subject);
    const issued = await people['otherPros']!.call('POST', `/api/bookings/${bookingId}/guest-links`, { role: 'defence_lawyer', guestName: '冒名律师' });
    expect(issued.status).toBe(403);
    expect(refusals(actor, subject)).toBe(before + 1);
    expect((await people['otherPros']!.call('GET', `/api/bookings/${bookingId}/guest-links`)).status).toBe(403);
    expect(refusals(actor, subject)).toBe(before + 2);
    const link = await issueGuestLink(people['pros']!, bookingId, 'defence_lawyer', '辩护律师 撤销');
    expect((await people['otherPros']!.call('POST', `/api/bookings/${bookingId}/guest-links/${link.linkId}/revoke`)).status).toBe(403);
    expect(refusals(actor, subject)).toBe(before + 3);
    expect(server.guestLinks.current(link.linkId)!.state).toBe('issued');
    // Staff (who revoke) issue none, and that refusal is audited too.
    const staffActor = 'user:' + (server.db.prepare("SELECT username FROM users WHERE id = 'S-AG1'").get() as { username: string }).username;
    const staffBefore = refusals(staffActor, subject) + (server.db.prepare("SELECT count(*) AS n FROM audit_entries WHERE action = 'access.refused' AND actor = ?").get(staffActor) as { n: number }).n;
    expect((await people['staff']!.call('POST', `/api/bookings/${bookingId}/guest-links`, { role: 'defence_lawyer', guestName: '员工律师' })).status).toBe(403);
    expect(refusals(staffActor, subject) + (server.db.prepare("SELECT count(*) AS n FROM audit_entries WHERE action = 'access.refused' AND actor = ?").get(staffActor) as { n: number }).n).toBe(staffBefore + 1);
    expect(server.audit.verify()).toBeNull();
  });
});
