// A booking in its room keeps its session: after a server restart, and after its
// media worker dies, the session is opened again by itself.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { freeTcpPort } from './helpers/agent.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { staffOf } from './helpers/staff.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-recovery-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

// Working windows all day, every day, so that "today" always has room.
const allDay = ['00:00-24:00'];
const overrides = { schedule: { ...(await import('../server/config.js')).loadConfig({ env: {} }).schedule, weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } } };
// The site's clock is set to 10:00 of today's date in Shanghai and runs on from there, so the test
// runs the same at any real hour (a booking 10 minutes from "now" always fits in the day).
const timeZone = (await import('../server/config.js')).loadConfig({ env: {} }).site.timeZone;
const today = new SiteClock(timeZone).local().date;
const offsetMs = new SiteClock(timeZone).toEpochMs(today, 10 * 60) - Date.now();
const clock = new SiteClock(timeZone, () => Date.now() + offsetMs);
const now = clock.local();

describe('session recovery', () => {
  it('reopens the session of a booking in its room after a restart and after its worker dies', async () => {
    const port = await freeTcpPort();
    let server = await startTestServer({ dataDir, port, rooms: 10, standingSessions: false, overrides, clock });
    const key = await staffOf(server);
    const start = Math.ceil((now.minute + 10) / 5) * 5;
    const created = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: start, roomId: 'plea-1' }), key);
    expect(created.status).toBe(201);
    const id = String(created.body['id']);
    expect((await call(server.url, 'POST', `/api/bookings/${id}/status`, { status: 'in_room' }, key)).status).toBe(200);
    expect(server.registry.forBooking(id)).toBeDefined();

    await server.close();
    server = await startTestServer({ dataDir, port, rooms: 10, standingSessions: false, overrides, clock });
    try {
      const reopened = server.registry.forBooking(id);
      expect(reopened?.room.id).toBe('plea-1');
      expect(server.schedule.store.row(id)?.status).toBe('in_room');

      // The worker dies: the pool replaces it and the booking's session comes back.
      const [pid] = server.pool.pids();
      process.kill(pid!, 'SIGKILL');
      await waitFor('session lost', () => server.registry.forBooking(id) !== reopened, 10_000);
      const again = await waitFor('session reopened on a new worker', () => server.registry.forBooking(id), 20_000);
      expect(again).not.toBe(reopened);
      expect(again.router.closed).toBe(false);
    } finally {
      await server.cleanup();
    }
  });
});
