// Every schedule route against nonsense: impossible and far-off dates, times
// outside the day, null where a number belongs, blank ids and ids with control
// characters, unknown references, contradictory reserved windows. Each answer is
// a 4xx naming the field (never a 5xx), and nothing is stored: the SQLite file's
// tables are the same before and after each case.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { bookingRequest, call, siteDay, workday, type Caller } from './helpers/http.js';
import { staffOf } from './helpers/staff.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let key: Caller;
let booking: string;
let shift: string;
const DAY = workday();

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false });
  key = await staffOf(server);
  const b = await call(server.url, 'POST', '/api/bookings', bookingRequest({ caseNumber: 'OK-1', detaineeId: 'OKD', prosecutorId: 'OKP', lawyerId: 'OKL' }), key);
  expect(b.status).toBe(201);
  booking = String(b.body['id']);
  const s = await call(server.url, 'POST', '/api/roster', { lawyerId: 'duty-ok', date: DAY, start: 540, end: 600 }, key);
  expect(s.status).toBe(201);
  shift = String(s.body['id']);
});
afterAll(async () => {
  await server?.cleanup();
});

/** Everything the schedule stores, as one comparable snapshot. */
function snapshot(): string {
  const db = server.db;
  const tables = ['bookings', 'booking_holds', 'booking_history', 'notices', 'duty_shifts', 'reserved_windows', 'rooms', 'sessions'];
  return JSON.stringify(tables.map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()));
}

const req = (over: Record<string, unknown>) => bookingRequest({ caseNumber: 'BAD-1', detaineeId: 'BD', prosecutorId: 'BP', lawyerId: 'BL', ...over });
const far = siteDay(400);
const old = siteDay(-30);

type Case = [label: string, method: string, path: () => string, body: unknown, status: number, field: string];
const bookingCases = (path: string): Case[] => [
  ['impossible date 2026-02-30', 'POST', () => path, req({ date: '2026-02-30' }), 400, 'date'],
  ['impossible date 2026-99-99', 'POST', () => path, req({ date: '2026-99-99' }), 400, 'date'],
  ['year 2000', 'POST', () => path, req({ date: '2000-01-03' }), 400, 'date'],
  ['year 9999', 'POST', () => path, req({ date: '9999-12-31' }), 400, 'date'],
  ['past the horizon', 'POST', () => path, req({ date: far }), 400, 'date'],
  ['before the horizon', 'POST', () => path, req({ date: old }), 400, 'date'],
  ['start before the day', 'POST', () => path, req({ requestedStart: -1 }), 400, 'requestedStart'],
  ['start after the day', 'POST', () => path, req({ requestedStart: 1441 }), 400, 'requestedStart'],
  ['fractional start', 'POST', () => path, req({ requestedStart: 600.5 }), 400, 'requestedStart'],
  ['null start', 'POST', () => path, req({ requestedStart: null }), 400, 'requestedStart'],
  ['null escort', 'POST', () => path, req({ escortBeforeMin: null }), 400, 'escortBeforeMin'],
  ['null changeover', 'POST', () => path, req({ changeoverAfterMin: null }), 400, 'changeoverAfterMin'],
  ['null priority', 'POST', () => path, req({ priorityClass: null }), 400, 'priorityClass'],
  ['zero duration', 'POST', () => path, req({ durationMin: 0 }), 400, 'durationMin'],
  ['blank case number', 'POST', () => path, req({ caseNumber: '' }), 400, 'caseNumber'],
  ['spaces as case number', 'POST', () => path, req({ caseNumber: '   ' }), 400, 'caseNumber'],
  ['control character in an id', 'POST', () => path, req({ detaineeId: 'D\u0000-1' }), 400, 'detaineeId'],
  ['newline in an id', 'POST', () => path, req({ prosecutorId: 'P\n1' }), 400, 'prosecutorId'],
  ['leading blank in an id', 'POST', () => path, req({ lawyerId: ' L-1' }), 400, 'lawyerId'],
  ['right-to-left override in an id', 'POST', () => path, req({ detaineeId: 'D\u202e1' }), 400, 'detaineeId'],
  ['overlong id', 'POST', () => path, req({ detaineeId: 'D'.repeat(65) }), 400, 'detaineeId'],
  ['unknown room', 'POST', () => path, req({ roomId: 'plea-99' }), 400, 'roomId'],
  ['room id with a blank', 'POST', () => path, req({ roomId: 'plea 1' }), 400, 'roomId'],
  ['defence lawyer without id', 'POST', () => path, req({ lawyerId: undefined }), 400, 'lawyerId'],
  ['unknown field', 'POST', () => path, req({ priority: 'higher' }), 400, 'priority'],
  ['an array as body', 'POST', () => path, [req({})], 400, 'body'],
];

const cases: Case[] = [
  ['day: impossible date', 'GET', () => '/api/schedule/day?date=2026-02-30', undefined, 400, 'date'],
  ['day: month 99', 'GET', () => '/api/schedule/day?date=2026-99-99', undefined, 400, 'date'],
  ['day: not a date', 'GET', () => '/api/schedule/day?date=tomorrow', undefined, 400, 'date'],
  ...bookingCases('/api/bookings').map((c): Case => [`create: ${c[0]}`, c[1], c[2], c[3], c[4], c[5]]),
  ...bookingCases('/api/bookings/check').map((c): Case => [`check: ${c[0]}`, c[1], c[2], c[3], c[4], c[5]]),
  ['plan: impossible date', 'POST', () => '/api/bookings/plan', { date: '2026-02-30', requests: [req({ date: '2026-02-30' })] }, 400, 'date'],
  ['plan: year 9999', 'POST', () => '/api/bookings/plan', { date: '9999-12-31', requests: [req({ date: '9999-12-31' })] }, 400, 'date'],
  ['plan: no requests', 'POST', () => '/api/bookings/plan', { date: DAY, requests: [] }, 400, 'requests'],
  ['plan: a request for another day', 'POST', () => '/api/bookings/plan', { date: DAY, requests: [req({ date: siteDay(20) })] }, 400, 'requests'],
  ['plan: a null inside', 'POST', () => '/api/bookings/plan', { date: DAY, requests: [req({ durationMin: null })] }, 400, 'durationMin'],
  ['get: unknown booking', 'GET', () => '/api/bookings/B20260101-999', undefined, 404, 'B20260101-999'],
  ['get: control character in the id', 'GET', () => '/api/bookings/B%01x', undefined, 400, 'id'],
  ['get: overlong id', 'GET', () => `/api/bookings/${'B'.repeat(65)}`, undefined, 400, 'id'],
  ['move: unknown booking', 'POST', () => '/api/bookings/B20260101-999/move', { start: 600 }, 404, 'B20260101-999'],
  ['move: start after the day', 'POST', () => `/api/bookings/${booking}/move`, { start: 1441 }, 400, 'start'],
  ['move: null start', 'POST', () => `/api/bookings/${booking}/move`, { start: null }, 400, 'start'],
  ['move: impossible date', 'POST', () => `/api/bookings/${booking}/move`, { start: 600, date: '2026-02-30' }, 400, 'date'],
  ['move: year 9999', 'POST', () => `/api/bookings/${booking}/move`, { start: 600, date: '9999-12-31' }, 400, 'date'],
  ['move: unknown room', 'POST', () => `/api/bookings/${booking}/move`, { start: 600, roomId: 'plea-99' }, 400, 'roomId'],
  ['move: dry run null', 'POST', () => `/api/bookings/${booking}/move`, { start: 600, dryRun: null }, 400, 'dryRun'],
  ['cancel: unknown booking', 'POST', () => '/api/bookings/B20260101-999/cancel', {}, 404, 'B20260101-999'],
  ['cancel: control character in the note', 'POST', () => `/api/bookings/${booking}/cancel`, { note: 'a\u0007b' }, 400, 'note'],
  ['cancel: version 0', 'POST', () => `/api/bookings/${booking}/cancel`, { version: 0 }, 400, 'version'],
  ['cancel: null version', 'POST', () => `/api/bookings/${booking}/cancel`, { version: null }, 400, 'version'],
  ['cancel: an old version', 'POST', () => `/api/bookings/${booking}/cancel`, { version: 99 }, 409, 'version'],
  ['no-show: unknown booking', 'POST', () => '/api/bookings/B20260101-999/no-show', {}, 404, 'B20260101-999'],
  ['status: unknown booking', 'POST', () => '/api/bookings/B20260101-999/status', { status: 'in_room' }, 404, 'B20260101-999'],
  ['status: no such status', 'POST', () => `/api/bookings/${booking}/status`, { status: 'flying' }, 400, 'status'],
  ['status: null status', 'POST', () => `/api/bookings/${booking}/status`, { status: null }, 400, 'status'],
  ['status: "in room" on another day', 'POST', () => `/api/bookings/${booking}/status`, { status: 'in_room' }, 409, 'today'],
  ['overrun: unknown booking', 'POST', () => '/api/bookings/B20260101-999/overrun', { newEnd: 600 }, 404, 'B20260101-999'],
  ['overrun: never started', 'POST', () => `/api/bookings/${booking}/overrun`, { newEnd: 600 }, 409, 'in room'],
  ['overrun: null end', 'POST', () => `/api/bookings/${booking}/overrun`, { newEnd: null }, 400, 'newEnd'],
  ['overrun: after the day', 'POST', () => `/api/bookings/${booking}/overrun`, { newEnd: 2000 }, 400, 'newEnd'],
  ['guest links: unknown booking', 'GET', () => '/api/bookings/B20260101-999/guest-links', undefined, 404, 'B20260101-999'],
  ['roster list: impossible date', 'GET', () => '/api/roster?date=2026-02-30', undefined, 400, 'date'],
  ['roster: impossible date', 'POST', () => '/api/roster', { lawyerId: 'duty-1', date: '2026-02-30', start: 540, end: 600 }, 400, 'date'],
  ['roster: month 99', 'POST', () => '/api/roster', { lawyerId: 'duty-1', date: '2026-99-99', start: 540, end: 600 }, 400, 'date'],
  ['roster: year 9999', 'POST', () => '/api/roster', { lawyerId: 'duty-1', date: '9999-12-31', start: 540, end: 600 }, 400, 'date'],
  ['roster: end before start', 'POST', () => '/api/roster', { lawyerId: 'duty-1', date: DAY, start: 600, end: 540 }, 400, 'end'],
  ['roster: end after the day', 'POST', () => '/api/roster', { lawyerId: 'duty-1', date: DAY, start: 600, end: 1500 }, 400, 'end'],
  ['roster: null start', 'POST', () => '/api/roster', { lawyerId: 'duty-1', date: DAY, start: null, end: 600 }, 400, 'start'],
  ['roster: blank lawyer', 'POST', () => '/api/roster', { lawyerId: ' ', date: DAY, start: 540, end: 600 }, 400, 'lawyerId'],
  ['roster delete: unknown shift', 'DELETE', () => '/api/roster/no-such-shift', undefined, 404, 'no-such-shift'],
  ['roster delete: bad choice', 'DELETE', () => `/api/roster/${shift}?affected=maybe`, undefined, 400, 'affected'],
  ['window: unknown room', 'POST', () => '/api/reserved-windows', { priorityClass: 'higher', start: 540, end: 600, roomId: 'plea-99' }, 400, 'roomId'],
  ['window: impossible date', 'POST', () => '/api/reserved-windows', { priorityClass: 'higher', start: 540, end: 600, date: '2026-02-30' }, 400, 'date'],
  ['window: month 99', 'POST', () => '/api/reserved-windows', { priorityClass: 'higher', start: 540, end: 600, date: '2026-99-99' }, 400, 'date'],
  ['window: weekday 8', 'POST', () => '/api/reserved-windows', { priorityClass: 'higher', start: 540, end: 600, weekday: 8 }, 400, 'weekday'],
  ['window: date and another weekday', 'POST', () => '/api/reserved-windows', { priorityClass: 'higher', start: 540, end: 600, date: DAY, weekday: ((new Date(`${DAY}T00:00:00Z`).getUTCDay() + 1) % 7) + 1 }, 400, 'weekday'],
  ['window: room of another kind', 'POST', () => '/api/reserved-windows', { priorityClass: 'higher', start: 540, end: 600, roomId: 'plea-1', roomKind: 'interrogation' }, 400, 'roomKind'],
  ['window: end before start', 'POST', () => '/api/reserved-windows', { priorityClass: 'higher', start: 600, end: 540 }, 400, 'end'],
  ['window: district class', 'POST', () => '/api/reserved-windows', { priorityClass: 'district', start: 540, end: 600 }, 400, 'priorityClass'],
  ['window: null end', 'POST', () => '/api/reserved-windows', { priorityClass: 'higher', start: 540, end: null }, 400, 'end'],
  ['window delete: unknown window', 'DELETE', () => '/api/reserved-windows/no-such-window', undefined, 404, 'no-such-window'],
  ['room status: unknown room', 'PUT', () => '/api/rooms/plea-99/status', { status: 'out_of_service' }, 404, 'plea-99'],
  ['room status: no such status', 'PUT', () => '/api/rooms/plea-1/status', { status: 'broken' }, 400, 'status'],
  ['room status: bad choice', 'PUT', () => '/api/rooms/plea-1/status', { status: 'out_of_service', affected: 'maybe' }, 400, 'affected'],
  ['room status: null', 'PUT', () => '/api/rooms/plea-1/status', { status: null }, 400, 'status'],
];

describe('bad input on every schedule route', () => {
  it.each(cases)('%s: a 4xx naming the field, nothing stored', async (_label, method, path, body, status, field) => {
    const before = snapshot();
    const res = await call(server.url, method, path(), body, key);
    expect(res.status).toBeLessThan(500);
    expect(res.status).toBe(status);
    expect(String(res.body['message'])).toContain(field);
    expect(snapshot()).toBe(before);
  });

  it('covers every schedule route', () => {
    const routes = new Set(cases.map(([, method, path]) => `${method} ${path().split('?')[0]!.replace(/\/bookings\/[^/]+/, '/bookings/:id').replace(/\/roster\/[^/]+/, '/roster/:id').replace(/\/reserved-windows\/[^/]+/, '/reserved-windows/:id').replace(/\/rooms\/[^/]+/, '/rooms/:id')}`));
    for (const r of [
      'GET /api/schedule/day', 'POST /api/bookings', 'POST /api/bookings/:id', 'GET /api/bookings/:id', 'POST /api/bookings/:id/move', 'POST /api/bookings/:id/cancel',
      'POST /api/bookings/:id/no-show', 'POST /api/bookings/:id/status', 'POST /api/bookings/:id/overrun', 'GET /api/bookings/:id/guest-links',
      'GET /api/roster', 'POST /api/roster', 'DELETE /api/roster/:id', 'POST /api/reserved-windows', 'DELETE /api/reserved-windows/:id', 'PUT /api/rooms/:id/status',
    ]) expect(routes, r).toContain(r);
  });
});
