// Regression, named after the attack: "staff fetches a prosecutor's join link and
// watches the hearing". Staff manage schedules but cannot watch sessions: there is
// no route that hands staff a join link, and nothing they can get joins. On the
// real clock (a join link's window was checked against it), so that before the
// fix this test saw the staff member join the hearing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest } from './helpers/http.js';
import { connect, send, type TestSocket } from './helpers/client.js';
import { makeUser, signIn, type SignedIn } from './helpers/accounts.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { loadConfig } from '../server/config.js';

const base = loadConfig({ env: {} });
const allDay = ['00:00-24:00'];
const overrides = { schedule: { ...base.schedule, weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } } };
const now = new SiteClock(base.site.timeZone).local();
const start = Math.ceil((now.minute + 10) / 5) * 5;
// A booking of today that starts soon: none fits in the last half hour of the site's day.
const lateInDay = start + 30 > 1440;

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let bookingId: string;
let staff: SignedIn;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  if (lateInDay) return;
  server = await startTestServer({ rooms: 10, standingSessions: false, overrides });
  await makeUser(server, ['prosecutor'], { id: 'P-A1' });
  staff = await signIn(server, await makeUser(server, ['detention_staff']));
  const made = await staff.call('POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: start, prosecutorId: 'P-A1', lawyerRole: 'defence', lawyerId: 'L-A1', roomId: 'plea-1' }));
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  bookingId = String(made.body['id']);
  expect((await staff.call('POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' })).status).toBe(200);
  await waitFor('session open', () => server.registry.forBooking(bookingId));
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.cleanup();
});

describe("attack: staff fetches a prosecutor's join link and watches the hearing", () => {
  it.skipIf(lateInDay)('there is no join link to fetch, and nothing staff can get joins the hearing', async () => {
    const res = await staff.call<Record<string, string>>('GET', `/api/bookings/${bookingId}/join-links`);
    // Whatever comes back, try it the way the attacker would: as the prosecutor's link.
    const url = res.body['prosecutor'];
    const token = url ? new URL(url, server.url).searchParams.get('token') : null;
    let watching = false;
    if (token) {
      const s = await connect(server.url, { kind: 'party', token }).catch(() => null);
      if (s) {
        sockets.push(s);
        watching = (await send(s, 'session:join', {})).ok;
      }
    }
    expect(watching, 'staff joined the hearing with the prosecutor\'s link').toBe(false);
    expect(res.status).toBe(404);
    expect(server.registry.forBooking(bookingId)!.partyList()).toEqual([]);
  });
});
