// The schedule's REST API with a real SQLite file, and its pushes to boards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest, call, workday } from './helpers/http.js';
import { connect, type TestSocket } from './helpers/client.js';
import { staffOf } from './helpers/staff.js';

const DAY = workday();
/** Distinct working days after DAY, one per test that needs a day of its own. */
const later = (k: number): string => {
  const days: string[] = [];
  for (let off = 3; days.length <= k; off++) {
    const d = workday(off);
    if (d !== DAY && !days.includes(d)) days.push(d);
  }
  return days[k] as string;
};

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let board: TestSocket;
const changes: Array<{ date: string; bookingIds: string[]; reason: string }> = [];
const notices: Array<{ bookingId: string; recipient: string; message: string }> = [];

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false });
  board = await connect(server.url, { kind: 'board' }, { cookie: (await staffOf(server)).cookie });
  board.on('schedule:changed', (c) => changes.push(c));
  board.on('schedule:notice', (n) => notices.push(n));
});
afterAll(async () => {
  board?.close();
  await server?.cleanup();
});

const api = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => call<T>(server.url, method, path, body, await staffOf(server));

describe('staff authentication', () => {
  it('refuses the schedule and the board to anyone not signed in as staff, and to a staff key', async () => {
    expect((await call(server.url, 'GET', `/api/schedule/day?date=${DAY}`)).status).toBe(401);
    expect((await call(server.url, 'POST', '/api/bookings', bookingRequest(), 'x'.repeat(24))).status).toBe(401);
    expect((await call(server.url, 'GET', '/api/bookings/B20261127-001/guest-links')).status).toBe(401);
    await expect(connect(server.url, { kind: 'board', key: 'y'.repeat(24) })).rejects.toThrow(/staff keys are no longer accepted/);
    await expect(connect(server.url, { kind: 'board' })).rejects.toThrow(/sign in first/);
  });
});

describe('bad input', () => {
  it.each([
    [{ requestedStart: 'nine' }, 'requestedStart'],
    [{ date: '27/11/2026' }, 'date'],
    [{ priorityClass: 'ministry' }, 'priorityClass'],
    [{ durationMin: 2 }, 'durationMin'],
    [{ extra: 1 }, 'extra'],
  ])('answers %j with 400 naming %s', async (over, field) => {
    const res = await api('POST', '/api/bookings', bookingRequest(over));
    expect(res.status).toBe(400);
    expect(String(res.body['message'])).toContain(field);
  });
  it('names a missing field, and a defence lawyer without an id', async () => {
    const { caseNumber: _drop, ...rest } = bookingRequest();
    const res = await api('POST', '/api/bookings', rest);
    expect(res.status).toBe(400);
    expect(String(res.body['message'])).toContain('caseNumber');
    const noLawyer = await api('POST', '/api/bookings', bookingRequest({ lawyerId: undefined }));
    expect(noLawyer.status).toBe(400);
    expect(String(noLawyer.body['message'])).toContain('lawyerId');
  });
  it('answers unknown bookings with 404 and impossible dates with 400', async () => {
    expect((await api('POST', '/api/bookings/nope/cancel', {})).status).toBe(404);
    expect((await api('GET', '/api/schedule/day?date=2026-02-30')).status).toBe(400);
    expect((await api('POST', '/api/bookings/nope/status', { status: 'flying' })).status).toBe(400);
  });
});

describe('booking', () => {
  let first: Record<string, unknown>;

  it('creates a booking, shows it on the day, and pushes the change to open boards', async () => {
    const res = await api('POST', '/api/bookings', bookingRequest());
    expect(res.status).toBe(201);
    first = res.body;
    expect(first).toMatchObject({ status: 'scheduled', start: 555, end: 567, roomId: 'plea-1' });
    const day = await api<{ bookings: Array<{ id: string }> }>('GET', `/api/schedule/day?date=${DAY}`);
    expect(day.body.bookings.map((b) => b.id)).toContain(first['id']);
    await waitFor('board push', () => changes.some((c) => c.bookingIds.includes(String(first['id']))));
  });

  it('refuses a clash with 409, the reason, and alternatives near the asked time', async () => {
    const res = await api('POST', '/api/bookings', bookingRequest({ caseNumber: 'A-2', prosecutorId: 'pros-002', lawyerId: 'law-002' }));
    expect(res.status).toBe(409);
    expect(res.body['reason']).toBe('detainee_busy');
    const alts = res.body['alternatives'] as Array<{ start: number }>;
    expect(alts.length).toBeGreaterThan(0);
    expect(alts.length).toBeLessThanOrEqual(3);
    const check = await api('POST', '/api/bookings/check', bookingRequest({ caseNumber: 'A-2', prosecutorId: 'pros-002', lawyerId: 'law-002' }));
    expect(check.body).toMatchObject({ ok: false, reason: 'detainee_busy' });
    const taken = await api('POST', '/api/bookings', bookingRequest({ caseNumber: 'A-2', detaineeId: 'D-002', prosecutorId: 'pros-002', lawyerId: 'law-002', requestedStart: alts[0]?.start }));
    expect(taken.status).toBe(201);
  });

  it('moves a booking, keeps its history and tells its parties', async () => {
    const id = String(first['id']);
    const res = await api('POST', `/api/bookings/${id}/move`, { start: 600 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ start: 600, end: 612 });
    const detail = await api<{ history: Array<{ action: string }>; notices: unknown[] }>('GET', `/api/bookings/${id}`);
    expect(detail.body.history.map((h) => h.action)).toEqual(['created', 'moved']);
    // The audit trail names the member of staff who signed in.
    expect(server.audit.recent(50).some((e) => e.action === 'booking.moved' && e.actor === 'user:staff-zhao')).toBe(true);
    expect(detail.body.notices.length).toBeGreaterThan(0);
    await waitFor('notice pushed', () => notices.some((n) => n.bookingId === id));
  });

  it('cancels, then refuses to cancel twice; a no-show frees the slot', async () => {
    const b = await api('POST', '/api/bookings', bookingRequest({ caseNumber: 'C-3', detaineeId: 'D-003', prosecutorId: 'pros-003', lawyerId: 'law-003', requestedStart: 845 }));
    const id = String(b.body['id']);
    expect((await api('POST', `/api/bookings/${id}/cancel`, { note: 'case withdrawn' })).body['status']).toBe('cancelled');
    expect((await api('POST', `/api/bookings/${id}/cancel`, {})).status).toBe(409);
    // The freed slot can be booked again by the same detainee.
    const again = await api('POST', '/api/bookings', bookingRequest({ caseNumber: 'C-3b', detaineeId: 'D-003', prosecutorId: 'pros-003', lawyerId: 'law-003', requestedStart: 845 }));
    expect(again.status).toBe(201);
    expect((await api('POST', `/api/bookings/${String(again.body['id'])}/no-show`, {})).body['status']).toBe('no_show');
    const third = await api('POST', '/api/bookings', bookingRequest({ caseNumber: 'C-3c', detaineeId: 'D-003', prosecutorId: 'pros-003', lawyerId: 'law-003', requestedStart: 845 }));
    expect(third.status).toBe(201);
  });

  it('plans a day in batch, priority first', async () => {
    // Every request wants plea-3 (say, the one room with the interpreter's line): the room holds
    // 16 twelve-minute sessions a day (8 per two-hour block), and 30 ask for it. The 24 district
    // requests come first in the input, the 6 higher-level ones last: planned in input order the
    // district ones would fill the room and every higher-level request would be left out.
    const requests = Array.from({ length: 30 }, (_, i) => {
      const higher = i >= 24;
      return bookingRequest({
        date: later(0), caseNumber: `B-${i}`, detaineeId: `BD-${i}`, prosecutorId: `BP-${i}`, lawyerId: `BL-${i}`,
        requestedStart: 545, roomId: 'plea-3', priorityClass: higher ? 'higher' : 'district',
      });
    });
    const res = await api<{ placed: Array<{ caseNumber: string; roomId: string; priorityClass: string }>; unplaced: Array<{ caseNumber: string; reason: string }> }>('POST', '/api/bookings/plan', { date: later(0), requests });
    expect(res.status).toBe(200);
    expect(res.body.placed).toHaveLength(16);
    expect(res.body.placed.every((b) => b.roomId === 'plea-3')).toBe(true);
    const placed = new Set(res.body.placed.map((b) => b.caseNumber));
    // All six higher-level requests are placed although they came last; ten district ones fill the rest.
    expect(requests.slice(24).filter((q) => placed.has(String(q['caseNumber'])))).toHaveLength(6);
    expect(res.body.placed.filter((b) => b.priorityClass === 'district')).toHaveLength(10);
    expect(res.body.unplaced).toHaveLength(14);
    expect(res.body.unplaced.every((u) => Number(u.caseNumber.slice(2)) < 24 && u.reason === 'room_busy')).toBe(true);
  });
});

describe('roster, reserved windows and room status', () => {
  it('keeps a duty roster: a duty booking without a named lawyer gets an on-duty one', async () => {
    const date = later(1);
    expect((await api('POST', '/api/roster', { lawyerId: 'duty-9', date, start: 540, end: 500 })).status).toBe(400);
    expect(String((await api('POST', '/api/roster', { date, start: 540, end: 660 })).body['message'])).toContain('lawyerId');
    const shift = await api('POST', '/api/roster', { lawyerId: 'duty-9', date, start: 540, end: 660 });
    expect(shift.status).toBe(201);
    const booked = await api('POST', '/api/bookings', bookingRequest({ date, caseNumber: 'R-1', detaineeId: 'RD-9', prosecutorId: 'RP-9', lawyerRole: 'duty', lawyerId: undefined, requestedStart: 573 }));
    expect(booked.status).toBe(201);
    expect(booked.body['lawyerId']).toBe('duty-9');
    // Outside the shift there is no duty lawyer.
    const none = await api('POST', '/api/bookings', bookingRequest({ date, caseNumber: 'R-2', detaineeId: 'RD-10', prosecutorId: 'RP-10', lawyerRole: 'duty', lawyerId: undefined, requestedStart: 843 }));
    expect(none.body['reason']).toBe('lawyer_not_on_duty');
    // R-1 relies on the shift: deleting it is refused with R-1 named, unless applied.
    const refused = await api<{ error: string; affected: Array<{ id: string; reasons: string[] }> }>('DELETE', `/api/roster/${String(shift.body['id'])}`);
    expect(refused.status).toBe(409);
    expect(refused.body.affected).toEqual([expect.objectContaining({ id: booked.body['id'], reasons: ['lawyer_not_on_duty'] })]);
    const applied = await api<{ affected: Array<{ id: string; outcome: string }> }>('DELETE', `/api/roster/${String(shift.body['id'])}?affected=apply`);
    expect(applied.status).toBe(200);
    expect(applied.body.affected).toEqual([expect.objectContaining({ id: booked.body['id'], outcome: 'flagged' })]);
    const dayView = await api<{ attention: Array<{ bookingId: string; reasons: string[] }> }>('GET', `/api/schedule/day?date=${date}`);
    expect(dayView.body.attention).toContainEqual({ bookingId: booked.body['id'], reasons: ['lawyer_not_on_duty'] });
    const told = await api<{ notices: Array<{ recipient: string }> }>('GET', `/api/bookings/${String(booked.body['id'])}`);
    expect(told.body.notices.map((n) => n.recipient)).toEqual(expect.arrayContaining(['prosecutor:RP-9', 'lawyer:duty-9', 'staff']));
    expect((await api('DELETE', `/api/roster/${String(shift.body['id'])}`)).status).toBe(404);
  });

  it('keeps reserved windows for higher-level procuratorates', async () => {
    const date = later(2);
    expect((await api('POST', '/api/reserved-windows', { priorityClass: 'district', start: 540, end: 600 })).status).toBe(400);
    const w = await api('POST', '/api/reserved-windows', { priorityClass: 'higher', date, start: 540, end: 660, roomId: 'plea-1' });
    expect(w.status).toBe(201);
    const district = await api('POST', '/api/bookings', bookingRequest({ date, caseNumber: 'W-1', detaineeId: 'WD-1', prosecutorId: 'WP-1', lawyerId: 'WL-1', requestedStart: 573, roomId: 'plea-1' }));
    expect(district.body['reason']).toBe('reserved');
    const higher = await api('POST', '/api/bookings', bookingRequest({ date, caseNumber: 'W-2', detaineeId: 'WD-2', prosecutorId: 'WP-2', lawyerId: 'WL-2', requestedStart: 573, roomId: 'plea-1', priorityClass: 'higher' }));
    expect(higher.status).toBe(201);
    expect((await api('DELETE', `/api/reserved-windows/${String(w.body['id'])}`)).status).toBe(204);
  });

  it('takes a room out of service: nothing new goes into it', async () => {
    expect((await api('PUT', '/api/rooms/plea-9/status', { status: 'out_of_service' })).status).toBe(404);
    expect((await api('PUT', '/api/rooms/plea-4/status', { status: 'broken' })).status).toBe(400);
    const s0 = await api('POST', '/api/bookings', bookingRequest({ date: later(3), caseNumber: 'S-0', detaineeId: 'SD-0', prosecutorId: 'SP-0', lawyerId: 'SL-0', requestedStart: 543, roomId: 'plea-4' }));
    expect(s0.status).toBe(201);
    // A live booking stands in plea-4: refused with the list, unless the staff member applies it.
    const refused = await api<{ error: string; affected: Array<{ id: string; reasons: string[] }> }>('PUT', '/api/rooms/plea-4/status', { status: 'out_of_service' });
    expect(refused.status).toBe(409);
    expect(refused.body.affected).toContainEqual(expect.objectContaining({ id: s0.body['id'], reasons: ['room_out_of_service'] }));
    expect(server.schedule.store.roomStatuses().get('plea-4')).toBe('active');
    const applied = await api<{ affected: Array<{ id: string; outcome: string; roomId: string; start: number }> }>('PUT', '/api/rooms/plea-4/status', { status: 'out_of_service', affected: 'apply' });
    expect(applied.status).toBe(200);
    const moved = applied.body.affected.find((a) => a.id === s0.body['id']);
    expect(moved).toMatchObject({ outcome: 'moved', start: 543 });
    expect(moved?.roomId).not.toBe('plea-4');
    expect(server.schedule.store.row(String(s0.body['id']))?.room_id).toBe(moved?.roomId);
    const res = await api('POST', '/api/bookings', bookingRequest({ date: later(3), caseNumber: 'S-1', detaineeId: 'SD-1', prosecutorId: 'SP-1', lawyerId: 'SL-1', requestedStart: 573, roomId: 'plea-4' }));
    expect(res.status).toBe(409);
    const day = await api<{ rooms: Array<{ id: string; status: string }> }>('GET', `/api/schedule/day?date=${later(3)}`);
    expect(day.body.rooms.find((r) => r.id === 'plea-4')?.status).toBe('out_of_service');
    const site = await api<{ rooms: Array<{ id: string; status: string }> }>('GET', '/api/site');
    expect(site.body.rooms.find((r) => r.id === 'plea-4')?.status).toBe('out_of_service');
    expect((await api('PUT', '/api/rooms/plea-4/status', { status: 'active' })).status).toBe(200);
  });
});

