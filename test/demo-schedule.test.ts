import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { seedDemoDay } from '../server/demo-schedule.js';
import { HOLDING, bookingOf } from '../server/schedule/schedule-store.js';
import { violations } from './helpers/schedule-rules.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false });
});
afterAll(async () => server?.cleanup());

describe('demo day', () => {
  it('plans a sample working day once, within the rules, and never again', () => {
    const seeded = seedDemoDay(server.schedule);
    expect(seeded).not.toBeNull();
    const rows = server.schedule.store.rows(seeded!.date);
    expect(rows.length).toBe(seeded!.placed);
    expect(seeded!.placed).toBeGreaterThanOrEqual(60);
    expect(rows.every((r) => HOLDING.includes(r.status))).toBe(true);
    // Within the rules: the stored day, read back, checked from scratch against the site of that
    // date (rooms and kinds, windows with escort and changeover, roster, people, buffers).
    const site = server.schedule.store.site(seeded!.date);
    expect(site.dutyRoster.length).toBeGreaterThan(0);
    expect(violations(site, rows.map(bookingOf))).toEqual([]);
    expect(rows.some((r) => r.session_kind === 'bail_hearing')).toBe(true); // the escort rule is exercised
    // Duty lawyers were picked from the roster.
    expect(rows.some((r) => r.lawyer_role === 'duty' && r.lawyer_id.startsWith('值班律师'))).toBe(true);
    expect(seedDemoDay(server.schedule)).toBeNull();
    expect(server.audit.verify()).toBeNull();
  });
});
