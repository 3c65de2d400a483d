// The embedded demo (`npm start` = server/main.ts --demo) and nothing of it in
// production: default config has demo mode off; the demo config listens on
// loopback unless told otherwise; demo accounts for every role get random
// one-time passwords that must be changed at the first sign-in; the demo day is
// planned around the current time on the real schedule, with one booking live
// now; the newcomer's session goes through sign-in, "my sessions" (the join
// rules' answer) and a personal join, and there is no join-link shortcut.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { startTestServer } from './helpers/server.js';
import { call } from './helpers/http.js';
import { send, type TestSocket } from './helpers/client.js';
import { login, SignedIn } from './helpers/accounts.js';
import { loadConfig } from '../server/config.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { seedDemoAccounts, demoCast, demoPeople } from '../server/demo-accounts.js';
import { ensureDemoLive, seedDemoDay, type SeededDay } from '../server/demo-schedule.js';
import { allRoles } from '../server/access/roles.js';
import { HOLDING, bookingOf } from '../server/schedule/schedule-store.js';
import { violations } from './helpers/schedule-rules.js';

const demoConfig = loadConfig({ env: {}, demo: true });
// The site's clock at 10:00 of today, running on: the test runs the same at any hour.
const today = new SiteClock(demoConfig.site.timeZone).local().date;
const offsetMs = new SiteClock(demoConfig.site.timeZone).toEpochMs(today, 10 * 60) - Date.now();
/** Moves the site's clock on (a later start of the demo). */
let laterMs = 0;
const clock = new SiteClock(demoConfig.site.timeZone, () => Date.now() + offsetMs + laterMs);

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let passwords: Map<string, string>;
let day: SeededDay;
const sockets: TestSocket[] = [];

interface MyBooking { bookingId: string; role: string; basis: string; joinable: boolean; sessionOpen: boolean; why: string | null; windowOpens: string; windowCloses: string }

/** Signs in with the one-time password, changes it (as the login page does), and returns the signed-in person. */
async function firstSignIn(username: string): Promise<SignedIn> {
  const temp = passwords.get(username)!;
  const out = await login(server.url, username, temp);
  expect(out.status).toBe(200);
  expect((out.body['user'] as { mustChangePassword: boolean }).mustChangePassword).toBe(true);
  const cookie = out.setCookie!.split(';')[0]!;
  const s = new SignedIn(server.url, cookie, String(out.body['csrfToken']), { id: '', username, password: temp, roles: [] });
  // Before the change, only the account's own routes answer.
  const early = await s.call('GET', '/api/me/bookings');
  expect(early.status).toBe(403);
  expect(early.body['error']).toBe('password_change_required');
  const next = `Chosen at first sign-in ${passwords.size} x!`;
  expect((await s.call('POST', '/api/auth/password', { currentPassword: temp, newPassword: next })).status).toBe(204);
  return new SignedIn(server.url, cookie, s.csrfToken, { ...s.user, password: next });
}

function personSocket(s: SignedIn): Promise<TestSocket> {
  const socket: TestSocket = io(server.url, { auth: { kind: 'person' }, extraHeaders: { cookie: s.cookie }, transports: ['websocket'], reconnection: false, timeout: 5000 });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false, clock, overrides: { schedule: demoConfig.schedule } });
  const seeded = await seedDemoAccounts(server.accounts, server.departments);
  passwords = new Map(seeded.filter((a) => a.temporaryPassword).map((a) => [a.username, a.temporaryPassword!]));
  const planned = await seedDemoDay(server.schedule, demoCast);
  expect(planned).not.toBeNull();
  day = planned!;
}, 60_000);
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.cleanup();
});

describe('demo mode is off in production', () => {
  it('the default config runs no demo and standing sessions are off; the demo config listens on loopback unless told otherwise', () => {
    const prod = loadConfig({ env: {} });
    expect(prod.demo).toEqual({ syntheticAgents: false, standingSessions: false });
    expect(demoConfig.demo).toEqual({ syntheticAgents: true, standingSessions: false });
    expect(demoConfig.http.host).toBe('127.0.0.1');
    expect(demoConfig.media.listenIp).toBe('127.0.0.1');
    expect(loadConfig({ env: { PLEA_HOST: '0.0.0.0' }, demo: true }).http.host).toBe('0.0.0.0');
    // No environment switch turns standing sessions on.
    expect(loadConfig({ env: { PLEA_STANDING_SESSIONS: '1' } }).demo.standingSessions).toBe(false);
  });

  it('has no route handing out join links to standing sessions', async () => {
    const admin = await firstSignIn('admin');
    expect((await admin.call('GET', '/api/demo/join-links')).status).toBe(404);
    expect(server.access.routes().some((r) => r.url.includes('/demo'))).toBe(false);
    expect(server.registry.list().every((s) => s.bookingId !== null)).toBe(true);
  });
});

describe('demo accounts', () => {
  it('covers every role, with random one-time passwords, each changed at the first sign-in', async () => {
    const users = server.accounts.store.users();
    for (const role of allRoles) expect(users.some((u) => u.roles.includes(role)), role).toBe(true);
    expect(passwords.size).toBe(demoPeople.length);
    expect(new Set(passwords.values()).size).toBe(passwords.size);
    for (const u of users.filter((x) => x.username !== 'admin')) expect(u.mustChangePassword, u.username).toBe(true);
    // A second start creates nothing and shows no password again.
    const again = await seedDemoAccounts(server.accounts, server.departments);
    expect(again.every((a) => a.temporaryPassword === null)).toBe(true);
    // Departments of this procuratorate are organisations with a parent.
    expect(server.accounts.store.organisation('site-dept-1')?.parentId).toBe('site');
    // …and the first has a head, who may let a colleague stand in.
    expect(server.departments.head('site-dept-1')?.userId).toBe('demo-prosecutor-2');
  });
});

describe('the demo day', () => {
  it('is planned around the current time within the rules, with one booking live now and a later one', () => {
    expect(day.date).toBe(today);
    const rows = server.schedule.store.rows(day.date);
    expect(rows.length).toBe(day.placed);
    expect(day.placed).toBeGreaterThanOrEqual(30);
    const site = server.schedule.store.site(day.date);
    expect(violations(site, rows.map(bookingOf))).toEqual([]);
    expect(rows.some((r) => r.session_kind === 'bail_hearing')).toBe(true);
    const now = clock.local().minute;
    // Nothing is planned in the past.
    expect(rows.every((r) => r.start_min - r.escort_before_min >= now - 5)).toBe(true);
    const live = server.schedule.store.row(day.live!)!;
    expect([live.prosecutor_id, live.lawyer_role, live.lawyer_id, live.status]).toEqual(['demo-prosecutor-1', 'duty', 'demo-duty-lawyer-1', 'in_room']);
    expect(server.registry.forBooking(day.live!)).toBeDefined();
    const later = server.schedule.store.row(day.later!)!;
    expect(later.prosecutor_id).toBe('demo-prosecutor-1');
    expect(later.start_min).toBeGreaterThanOrEqual(now + 60);
    // Duty lawyers of the sample come from the roster; the newcomer's duty lawyer is kept for the live booking.
    const roster = new Set(site.dutyRoster.map((d) => d.lawyerId));
    expect(rows.filter((r) => r.lawyer_role === 'duty').every((r) => roster.has(r.lawyer_id))).toBe(true);
    expect(rows.filter((r) => r.lawyer_id === 'demo-duty-lawyer-1').map((r) => r.id)).toEqual([day.live]);
    expect(rows.some((r) => r.lawyer_id === 'demo-duty-lawyer-2')).toBe(true);
    expect(HOLDING).toContain('scheduled');
    expect(server.audit.verify()).toBeNull();
  });

  it('is planned once only; a later start gives the demo prosecutor a live booking again only when none is joinable', async () => {
    expect(await seedDemoDay(server.schedule, demoCast)).toBeNull();
    expect(await ensureDemoLive(server.schedule, demoCast)).toBeNull();
  });
});

describe("the newcomer's three-way session", () => {
  it('the prosecutor signs in, sees the live booking and the later one in "my sessions", and joins the live one', async () => {
    const pros = await firstSignIn('prosecutor1');
    const mine = await pros.call<{ bookings: MyBooking[] }>('GET', '/api/me/bookings');
    expect(mine.status).toBe(200);
    const byId = new Map(mine.body.bookings.map((b) => [b.bookingId, b]));
    expect(byId.get(day.live!)).toMatchObject({ role: 'prosecutor', basis: 'booked', joinable: true, sessionOpen: true, why: null });
    expect(byId.get(day.later!)).toMatchObject({ role: 'prosecutor', joinable: false, sessionOpen: false });
    expect(byId.get(day.later!)!.why).toMatch(/opens at/);
    expect(Date.parse(byId.get(day.live!)!.windowOpens)).toBeLessThanOrEqual(clock.nowMs());
    // Only the bookings this prosecutor is on.
    const own = new Set(server.schedule.store.rows(day.date).filter((r) => r.prosecutor_id === 'demo-prosecutor-1').map((r) => r.id));
    expect([...byId.keys()].every((id) => own.has(id))).toBe(true);
    const s = await personSocket(pros);
    expect((await send(s, 'session:join', { bookingId: day.live })).ok).toBe(true);
  });

  it('the duty lawyer signs in, sees the same booking and joins it; another prosecutor does not see it', async () => {
    const lawyer = await firstSignIn('dutylawyer1');
    const mine = await lawyer.call<{ bookings: MyBooking[] }>('GET', '/api/me/bookings');
    expect(mine.body.bookings.find((b) => b.bookingId === day.live)).toMatchObject({ role: 'lawyer', joinable: true });
    const s = await personSocket(lawyer);
    expect((await send(s, 'session:join', { bookingId: day.live })).ok).toBe(true);
    const roles = server.registry.forBooking(day.live!)!.partyList().map((p) => p.role).sort();
    expect(roles).toEqual(['lawyer', 'prosecutor']);

    const other = await firstSignIn('prosecutor3');
    const theirs = await other.call<{ bookings: MyBooking[] }>('GET', '/api/me/bookings');
    expect(theirs.body.bookings.some((b) => b.bookingId === day.live)).toBe(false);
    const clerk = await firstSignIn('clerk1');
    expect((await clerk.call<{ bookings: MyBooking[] }>('GET', '/api/me/bookings')).body.bookings).toEqual([]);
    expect((await call(server.url, 'GET', '/api/me/bookings')).status).toBe(401);
  });

  it('on a later start after the live booking ended, a new live booking opens for the same two people', async () => {
    await server.schedule.advance(day.live!, 'finished', 'test');
    expect(server.registry.forBooking(day.live!)).toBeUndefined();
    // Half an hour later (the live booking's slot is over; the later one not yet open).
    laterMs = 26 * 60_000;
    const next = await ensureDemoLive(server.schedule, demoCast);
    expect(next).not.toBeNull();
    const row = server.schedule.store.row(next!)!;
    expect([row.prosecutor_id, row.lawyer_id, row.status]).toEqual(['demo-prosecutor-1', 'demo-duty-lawyer-1', 'in_room']);
    expect(server.registry.forBooking(next!)).toBeDefined();
    expect(violations(server.schedule.store.site(row.date), server.schedule.store.rows(row.date).map(bookingOf))).toEqual([]);
    expect(await ensureDemoLive(server.schedule, demoCast)).toBeNull();
  });
});
