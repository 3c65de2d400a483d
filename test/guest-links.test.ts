// Guest links: issued by the booking's own prosecutor; the secret and the code
// are shown once and stored only as hashes; a link works on one device at a time
// (a second device is refused while it is bound; the bound device rejoins after a
// drop), inside its booking's window only, for its booking only, not after
// revocation (the live party is told and removed at once); wrong codes lock it.
// Every step is audited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
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
// The site's clock at 10:00 of today, running on; a test moves it to after a window's end and back.
const today = new SiteClock(base.site.timeZone).local().date;
const tenOClock = new SiteClock(base.site.timeZone).toEpochMs(today, 10 * 60) - Date.now();
let offsetMs = tenOClock;
const clock = new SiteClock(base.site.timeZone, () => Date.now() + offsetMs);
const now = clock.local();

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
const people: Record<string, SignedIn> = {};
const sockets: TestSocket[] = [];
/** Now: window open, in room. */
let bookingId: string;
/** Another booking (another prosecutor), also open: a link for it must not join the first. */
let otherId: string;
/** Two hours later: its window has not opened. */
let laterId: string;
/** A bail hearing (the suspect joins from outside). */
let bailId: string;

const audited = (action: string, linkId: string) =>
  (server.db.prepare('SELECT count(*) AS n FROM audit_entries WHERE action = ? AND detail LIKE ?').get(action, `%${linkId}%`) as { n: number }).n;
const errorOf = (r: Awaited<ReturnType<typeof send>>) => (r.ok ? { code: 'ok', message: '' } : r.error);

async function book(over: Record<string, unknown>): Promise<string> {
  const made = await people['staff']!.call('POST', '/api/bookings', bookingRequest({ date: now.date, prosecutorId: 'P-G1', lawyerRole: 'defence', lawyerId: 'L-NOACCOUNT', ...over }));
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  return String(made.body['id']);
}

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false, overrides, clock });
  for (const [name, roles, id] of [
    ['pros', ['prosecutor'], 'P-G1'],
    ['otherPros', ['prosecutor'], 'P-G2'],
    ['bailPros', ['prosecutor'], 'P-G3'],
    ['staff', ['detention_staff'], 'S-G1'],
    ['clerk', ['evidence_clerk'], 'C-G1'],
    ['lawyerWithAccount', ['defence_lawyer'], 'L-ACCOUNT'],
  ] as const) {
    people[name] = await signIn(server, await makeUser(server, [...roles], { id, displayName: `账户名 ${id}` }));
  }
  const start = Math.ceil((now.minute + 10) / 5) * 5;
  bookingId = await book({ requestedStart: start, roomId: 'plea-1' });
  otherId = await book({ requestedStart: start, caseNumber: 'OTHER-1', detaineeId: 'D-OTHER', roomId: 'plea-2', prosecutorId: 'P-G2', lawyerId: 'L-NOACCOUNT-2' });
  laterId = await book({ requestedStart: start + 150, caseNumber: 'LATER-1', detaineeId: 'D-LATER', roomId: 'plea-3' });
  bailId = await book({ requestedStart: start, caseNumber: 'BAIL-1', detaineeId: 'D-BAIL', sessionKind: 'bail_hearing', roomId: 'interrogation-1', prosecutorId: 'P-G3', lawyerId: 'L-ACCOUNT' });
  for (const id of [bookingId, otherId, bailId]) expect((await people['staff']!.call('POST', `/api/bookings/${id}/status`, { status: 'in_room' })).status).toBe(200);
  await waitFor('sessions open', () => server.registry.forBooking(bookingId) && server.registry.forBooking(otherId) && server.registry.forBooking(bailId));
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.cleanup();
});

describe('issuing', () => {
  it('the booking\'s prosecutor gets the link and the code once; the store keeps neither', async () => {
    const link = await issueGuestLink(people['pros']!, bookingId, 'defence_lawyer', '辩护律师 王某');
    expect(link.url).toMatch(/\/guest#[A-Za-z0-9_-]{43}$/);
    expect(link.code).toMatch(/^\d{6}$/);
    const row = server.db.prepare('SELECT * FROM guest_links WHERE id = ?').get(link.linkId) as Record<string, unknown>;
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(link.secret);
    expect(stored).not.toContain(`"${link.code}"`);
    expect(row['booking_id']).toBe(bookingId);
    expect(row['issued_by']).toBe(`user:${people['pros']!.user.username}`);
    expect(audited('guest_link.issued', link.linkId)).toBe(1);
    // Listing shows state, never the secret or the code.
    const list = await people['staff']!.call<{ links: Array<Record<string, unknown>>; canIssue: unknown[]; canRevoke: boolean }>('GET', `/api/bookings/${bookingId}/guest-links`);
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).not.toContain(link.secret);
    expect(list.body.links.find((l) => l['id'] === link.linkId)?.['state']).toBe('issued');
    expect(list.body.canIssue).toEqual([]);
    expect(list.body.canRevoke).toBe(true);
    // A second live link for the same guest is refused: revoke the first.
    expect((await people['pros']!.call('POST', `/api/bookings/${bookingId}/guest-links`, { role: 'defence_lawyer', guestName: 'x' })).status).toBe(409);
    await people['pros']!.call('POST', `/api/bookings/${bookingId}/guest-links/${link.linkId}/revoke`);
  });

  it('staff, another prosecutor and a clerk cannot issue one', async () => {
    for (const name of ['staff', 'otherPros', 'clerk']) {
      const out = await people[name]!.call('POST', `/api/bookings/${bookingId}/guest-links`, { role: 'defence_lawyer', guestName: 'intruder' });
      expect(out.status, name).toBe(403);
    }
    expect((server.db.prepare("SELECT count(*) AS n FROM guest_links WHERE guest_name = 'intruder'").get() as { n: number }).n).toBe(0);
    expect((await people['otherPros']!.call('GET', `/api/bookings/${bookingId}/guest-links`)).status).toBe(403);
  });

  it('only a bail hearing has a suspect link; a defence lawyer with an account signs in instead', async () => {
    expect((await people['pros']!.call('POST', `/api/bookings/${bookingId}/guest-links`, { role: 'bail_suspect', guestName: 'x' })).status).toBe(409);
    const bail = await people['bailPros']!.call<{ canIssue: Array<{ role: string; ok: boolean; why: string | null }> }>('GET', `/api/bookings/${bailId}/guest-links`);
    expect(bail.body.canIssue.find((c) => c.role === 'bail_suspect')?.ok).toBe(true);
    expect(bail.body.canIssue.find((c) => c.role === 'defence_lawyer')?.why).toMatch(/account/);
    expect((await people['bailPros']!.call('POST', `/api/bookings/${bailId}/guest-links`, { role: 'defence_lawyer', guestName: 'x' })).status).toBe(409);
  });
});

describe('redeeming and joining', () => {
  it('one device at a time: the bound device joins under the link\'s name; a second device is refused while it is bound', async () => {
    const link = await issueGuestLink(people['pros']!, bookingId, 'defence_lawyer', '辩护律师 李某');
    const first = await redeem(server.url, link.secret, link.code);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.cookie).toMatch(/^plea_guest=/);
    expect(audited('guest_link.redeemed', link.linkId)).toBe(1);
    // Another device, even with the right code, is refused while the link is bound.
    const second = await redeem(server.url, link.secret, link.code);
    expect(second.status).toBe(409);
    expect(second.cookie).toBeNull();
    expect(audited('guest_link.refused', link.linkId)).toBeGreaterThanOrEqual(1);
    await expect(guestSocket(server.url, null, sockets)).rejects.toThrow(/guest link/);
    // The bound device joins, as the booking's lawyer, under the name the link was issued for.
    const s = await guestSocket(server.url, first.cookie, sockets);
    const joined = await send(s, 'session:join', { displayName: '检察官1' });
    expect(joined.ok, JSON.stringify(joined)).toBe(true);
    const session = server.registry.forBooking(bookingId)!;
    const mine = session.partyList().filter((p) => p.identity.personKey === `guest:${link.linkId}`);
    expect(mine.map((p) => [p.role, p.displayName])).toEqual([['lawyer', '辩护律师 李某']]);
    // A network drop: the same device reconnects and rejoins; still one live party for the link.
    s.disconnect();
    await waitFor('party gone', () => session.partyList().every((p) => p.identity.personKey !== `guest:${link.linkId}`), 5000, 50);
    const again = await guestSocket(server.url, first.cookie, sockets);
    expect((await send(again, 'session:join', {})).ok).toBe(true);
    const third = await guestSocket(server.url, first.cookie, sockets);
    expect((await send(third, 'session:join', {})).ok).toBe(true);
    expect(session.partyList().filter((p) => p.identity.personKey === `guest:${link.linkId}`)).toHaveLength(1);
    // The bound device may open its link again (it keeps its binding).
    expect((await redeem(server.url, link.secret, link.code, first.cookie)).status).toBe(200);
    await people['pros']!.call('POST', `/api/bookings/${bookingId}/guest-links/${link.linkId}/revoke`);
  });

  it('joins its booking only', async () => {
    const link = await issueGuestLink(people['otherPros']!, otherId, 'defence_lawyer', '辩护律师 赵某');
    const dev = await redeem(server.url, link.secret, link.code);
    const s = await guestSocket(server.url, dev.cookie, sockets);
    const e = errorOf(await send(s, 'session:join', { bookingId }));
    expect(e.code).toBe('forbidden');
    expect(e.message).toMatch(/another booking/);
    expect(server.registry.forBooking(bookingId)!.partyList().some((p) => p.identity.personKey === `guest:${link.linkId}`)).toBe(false);
    // Without naming one it joins its own.
    const own = await send(s, 'session:join', {});
    expect(own.ok, JSON.stringify(own)).toBe(true);
    expect(server.registry.forBooking(otherId)!.partyList().some((p) => p.identity.personKey === `guest:${link.linkId}`)).toBe(true);
    s.close();
    await people['otherPros']!.call('POST', `/api/bookings/${otherId}/guest-links/${link.linkId}/revoke`);
  });

  it('inside its booking\'s window only: before it opens, and after it ends, the join is refused', async () => {
    const link = await issueGuestLink(people['pros']!, laterId, 'defence_lawyer', '辩护律师 孙某');
    const dev = await redeem(server.url, link.secret, link.code);
    expect(dev.status).toBe(200);
    const s = await guestSocket(server.url, dev.cookie, sockets);
    const early = errorOf(await send(s, 'session:join', {}));
    expect(early.code).toBe('forbidden');
    expect(early.message).toMatch(/opens at/);
    // A link of the open booking, bound, then the site's clock passes the window's end.
    const open = await issueGuestLink(people['pros']!, bookingId, 'defence_lawyer', '辩护律师 周某');
    const openDev = await redeem(server.url, open.secret, open.code);
    const t = await guestSocket(server.url, openDev.cookie, sockets);
    const w = (await people['pros']!.call<{ validUntil: string }>('GET', `/api/bookings/${bookingId}/guest-links`)).body;
    offsetMs += Date.parse(w.validUntil) - clock.nowMs() + 60_000;
    try {
      const late = errorOf(await send(t, 'session:join', {}));
      expect(late.code).toBe('forbidden');
      expect(late.message).toMatch(/window ended/);
      expect((await redeem(server.url, open.secret, open.code, openDev.cookie)).status).toBe(403);
    } finally {
      offsetMs = tenOClock;
    }
    // Back inside it, the same device joins (the window, not the link, was the refusal).
    expect((await send(t, 'session:join', {})).ok).toBe(true);
    t.close();
    s.close();
    await people['pros']!.call('POST', `/api/bookings/${bookingId}/guest-links/${open.linkId}/revoke`);
  });

  it('a suspect on bail joins the bail hearing as a guest', async () => {
    const link = await issueGuestLink(people['bailPros']!, bailId, 'bail_suspect', '取保候审人 钱某');
    const dev = await redeem(server.url, link.secret, link.code);
    const s = await guestSocket(server.url, dev.cookie, sockets);
    expect((await send(s, 'session:join', {})).ok).toBe(true);
    const p = server.registry.forBooking(bailId)!.partyList().find((x) => x.identity.personKey === `guest:${link.linkId}`);
    expect([p?.role, p?.displayName]).toEqual(['guest', '取保候审人 钱某']);
    s.close();
  });
});

describe('revocation', () => {
  it('staff revoke a link: its live party is told and removed at once, and it neither joins nor redeems again', async () => {
    const link = await issueGuestLink(people['pros']!, bookingId, 'defence_lawyer', '辩护律师 吴某');
    const dev = await redeem(server.url, link.secret, link.code);
    const s = await guestSocket(server.url, dev.cookie, sockets);
    const joined = await send(s, 'session:join', {});
    expect(joined.ok).toBe(true);
    const partyId = joined.ok ? (joined.data as { partyId: string }).partyId : '';
    const told = new Promise<{ partyId: string; reason: string }>((resolve) => s.on('party:left', (info) => info.partyId === partyId && resolve(info)));
    const gone = new Promise<void>((resolve) => s.on('disconnect', () => resolve()));
    const out = await people['staff']!.call<{ state: string; revokedBy: string }>('POST', `/api/bookings/${bookingId}/guest-links/${link.linkId}/revoke`);
    expect(out.status).toBe(200);
    expect(out.body.state).toBe('revoked');
    expect(out.body.revokedBy).toBe(`user:${people['staff']!.user.username}`);
    const within = <T>(p: Promise<T>, what: string) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not ${what} within 5 s`)), 5000))]);
    expect(await within(told, 'told')).toEqual({ partyId, reason: 'revoked' });
    await within(gone, 'disconnected');
    expect(server.registry.forBooking(bookingId)!.partyList().some((p) => p.identity.personKey === `guest:${link.linkId}`)).toBe(false);
    await expect(guestSocket(server.url, dev.cookie, sockets)).rejects.toThrow(/guest link/);
    expect((await redeem(server.url, link.secret, link.code, dev.cookie)).status).toBe(403);
    expect(audited('guest_link.revoked', link.linkId)).toBe(1);
  });

  it('a socket connected before the revocation cannot join after it', async () => {
    const link = await issueGuestLink(people['otherPros']!, otherId, 'defence_lawyer', '辩护律师 郑某');
    const dev = await redeem(server.url, link.secret, link.code);
    const s = await guestSocket(server.url, dev.cookie, sockets);
    // Revoked straight in the store's service, as a second server process would (no event here).
    server.db.prepare('UPDATE guest_links SET revoked_at = ?, revoked_by = ? WHERE id = ?').run(new Date().toISOString(), 'test', link.linkId);
    const e = errorOf(await send(s, 'session:join', {}));
    expect(e.code).toBe('forbidden');
    expect(e.message).toMatch(/revoked/);
  });
});

describe('wrong codes', () => {
  it(`locks the link after ${MAX_WRONG_CODES} wrong codes, audited; the right code no longer opens it`, async () => {
    const link = await issueGuestLink(people['pros']!, bookingId, 'defence_lawyer', '辩护律师 冯某');
    for (let i = 1; i <= MAX_WRONG_CODES; i++) {
      const out = await redeem(server.url, link.secret, wrongCode(link.code));
      expect(out.status).toBe(403);
      expect(out.body['error']).toBe(i < MAX_WRONG_CODES ? 'wrong_code' : 'locked');
      expect(out.cookie).toBeNull();
    }
    const right = await redeem(server.url, link.secret, link.code);
    expect(right.status).toBe(403);
    expect(right.body['error']).toBe('locked');
    expect(right.cookie).toBeNull();
    expect(audited('guest_link.code_wrong', link.linkId)).toBe(MAX_WRONG_CODES);
    expect(audited('guest_link.locked', link.linkId)).toBe(1);
    const list = await people['staff']!.call<{ links: Array<{ id: string; state: string }> }>('GET', `/api/bookings/${bookingId}/guest-links`);
    expect(list.body.links.find((l) => l.id === link.linkId)?.state).toBe('locked');
  });

  it('an unknown secret gets nothing, and is audited', async () => {
    const before = (server.db.prepare("SELECT count(*) AS n FROM audit_entries WHERE action = 'guest_link.refused'").get() as { n: number }).n;
    const out = await redeem(server.url, 'A'.repeat(43), '123456');
    expect(out.status).toBe(404);
    expect(out.cookie).toBeNull();
    const after = (server.db.prepare("SELECT count(*) AS n FROM audit_entries WHERE action = 'guest_link.refused'").get() as { n: number }).n;
    expect(after).toBe(before + 1);
  });

  it('a forged device cookie is refused at the handshake', async () => {
    const forged = `plea_guest=${encodeURIComponent(`G-00000000-0000-0000-0000-000000000000.${'B'.repeat(43)}`)}`;
    await expect(guestSocket(server.url, forged, sockets)).rejects.toThrow(/guest link/);
    const raw: TestSocket = io(server.url, { auth: { kind: 'guest' }, transports: ['websocket'], reconnection: false });
    sockets.push(raw);
    await expect(new Promise((_, reject) => raw.once('connect_error', reject))).rejects.toThrow(/guest link/);
  });
});
