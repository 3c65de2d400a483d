// The evidence-segment upload route and the room agent's uploader, against a
// real server (no media): only the room's own agent, for a booking of its
// room; the server re-hashes and refuses a mismatch without storing anything;
// a repeated upload is answered from what is stored; an uploader started over
// a directory with sealed segments left (an agent restart) uploads them.
import { mkdirSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { loadConfig } from '../server/config.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { SegmentUploader, sealSegment } from '../room-agent/evidence/segment-uploader.js';
import { recordingDir } from '../recordings/recording-store.js';
import { connect, send } from './helpers/client.js';
import { staffOf } from './helpers/staff.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const base = loadConfig({ env: {} });
const allDay = ['00:00-24:00'];
// Uploads are taken until 30 minutes after a booking's end (the grace for an agent back from a network drop).
const overrides = { schedule: { ...base.schedule, weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } }, evidence: { ...base.evidence, uploadGraceMinutes: 30 } };
// The server's clock, moved forward by the window test.
let shiftMs = 0;
const clock = new SiteClock(base.site.timeZone, () => Date.now() + shiftMs);
let server: Server;
let bookingId: string;
const ROOM = 'interrogation-1';
const OTHER = 'interrogation-2';
// Larger than the JSON body limit of the other routes: a segment is megabytes.
const body = randomBytes(5_000_000);
const sha = createHash('sha256').update(body).digest('hex');
const name = '20261201T101500Z-00001.ts';

function put(room: string, credentialRoom: string, q: { sha256?: string; name?: string; booking?: string }, data: Buffer = body) {
  const cred = server.secrets.agentCredentials[credentialRoom] ?? '';
  const params = new URLSearchParams({ startedAt: '2026-12-01T02:15:00.000Z', endedAt: '2026-12-01T02:18:00.000Z', sha256: q.sha256 ?? sha });
  return fetch(`${server.url}/api/rooms/${room}/evidence/${q.booking ?? bookingId}/segments/${q.name ?? name}?${params}`, {
    method: 'PUT',
    headers: { 'content-type': 'video/mp2t', authorization: `Agent ${credentialRoom}:${cred}` },
    body: new Uint8Array(data),
  });
}

beforeAll(async () => {
  server = await startTestServer({ rooms: 2, standingSessions: false, overrides, clock });
  const key = await staffOf(server);
  const now = clock.local();
  const created = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: Math.ceil((now.minute + 10) / 5) * 5, roomId: ROOM }), key);
  expect(created.status).toBe(201);
  bookingId = String(created.body['id']);
});
afterAll(async () => server?.cleanup());

describe('evidence segment upload', () => {
  it('refuses another room, a wrong credential and a mismatched hash, storing nothing; stores a good segment once', async () => {
    // Another room's agent, with its own valid credential.
    const other = await put(ROOM, OTHER, {});
    expect(other.status).toBe(403);
    // The right room, a wrong credential: nobody authenticated.
    const wrong = await fetch(`${server.url}/api/rooms/${ROOM}/evidence/${bookingId}/segments/${name}?startedAt=2026-12-01T02:15:00Z&endedAt=2026-12-01T02:18:00Z&sha256=${sha}`, {
      method: 'PUT', headers: { 'content-type': 'video/mp2t', authorization: `Agent ${ROOM}:${'x'.repeat(32)}` }, body: new Uint8Array(body),
    });
    expect(wrong.status).toBe(401);
    // A bit flipped on the way: the server's hash differs.
    const flipped = Buffer.from(body);
    flipped[1000] = flipped[1000]! ^ 1;
    const mismatch = await put(ROOM, ROOM, {}, flipped);
    expect(mismatch.status).toBe(422);
    expect(((await mismatch.json()) as { error: string }).error).toBe('hash_mismatch');
    expect(server.recordings.segments(bookingId, 'evidence')).toHaveLength(0);
    const dir = path.join(recordingDir(server.config.dataDir, bookingId), 'evidence');
    expect(existsSync(path.join(dir, name))).toBe(false);
    // A name that is not a segment's (path tricks) is refused by the schema.
    expect((await put(ROOM, ROOM, { name: '..%2Fx.ts' })).status).toBe(400);

    const ok = await put(ROOM, ROOM, {});
    expect(ok.status).toBe(201);
    const stored = server.recordings.segments(bookingId, 'evidence');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ sha256: sha, bytes: body.length, path: `evidence/${name}`, container: 'ts' });
    expect(createHash('sha256').update(readFileSync(path.join(dir, name))).digest('hex')).toBe(sha);
    // Sent again (its answer was lost): answered from what is stored, not added twice.
    const again = await put(ROOM, ROOM, {});
    expect(again.status).toBe(200);
    expect(((await again.json()) as { duplicate: boolean }).duplicate).toBe(true);
    expect(server.recordings.segments(bookingId, 'evidence')).toHaveLength(1);
    // The same name with other content is a conflict, never an overwrite.
    const other2 = Buffer.from(body);
    other2[0] = other2[0]! ^ 0xff;
    expect((await put(ROOM, ROOM, { sha256: createHash('sha256').update(other2).digest('hex') }, other2)).status).toBe(409);
    expect(server.audit.verify()).toBeNull();
  });

  it('an uploader started over sealed segments left on disk (agent restart) uploads them and then removes them', async () => {
    const agentDir = path.join(server.config.dataDir, 'room-pc', 'evidence');
    const bdir = path.join(agentDir, bookingId);
    mkdirSync(bdir, { recursive: true });
    const file = path.join(bdir, '20261201T102000Z-00002.ts');
    writeFileSync(file, randomBytes(50_000));
    const record = await sealSegment(file, { bookingId, roomId: ROOM, startedAt: '2026-12-01T02:20:00.000Z', endedAt: '2026-12-01T02:23:00.000Z' });
    // A new process: nothing in memory, only the files.
    const uploader = new SegmentUploader({ serverUrl: server.url, roomId: ROOM, credential: server.secrets.agentCredentials[ROOM] ?? '', dir: agentDir, minDelayMs: 100 });
    uploader.start();
    try {
      await waitFor('left-over segment uploaded', () => server.recordings.segments(bookingId, 'evidence').some((s) => s.sha256 === record.sha256), 10_000);
      await waitFor('local copy removed after confirmation', () => !existsSync(file) && !existsSync(`${file}.json`), 5000);
    } finally {
      uploader.stop();
    }
  });

  it('the room agent dropping out of a booking session is an evidence gap (agent_disconnected), closed when it joins again', async () => {
    const key = await staffOf(server);
    expect((await call(server.url, 'POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' }, key)).status).toBe(200);
    const auth = { kind: 'agent', roomId: ROOM, credential: server.secrets.agentCredentials[ROOM] };
    const first = await connect(server.url, auth);
    const joined = await send(first, 'agent:join', {});
    expect(joined.ok).toBe(true);
    // The join reply carries the session clock and what the evidence video shows.
    const data = (joined as { ok: true; data: { clock: { serverTimeMs: number; timeZone: string }; evidence: { bookingId: string; caseNumber: string } | null } }).data;
    expect(Math.abs(data.clock.serverTimeMs - Date.now())).toBeLessThan(5000);
    expect(data.clock.timeZone).toBe(server.config.site.timeZone);
    expect(data.evidence).toMatchObject({ bookingId, caseNumber: 'A-2026-001' });
    expect(server.recordings.gaps(bookingId)).toHaveLength(0);
    first.disconnect();
    const gap = await waitFor('evidence gap opened', () => server.recordings.gaps(bookingId).find((g) => g.cause === 'agent_disconnected' && g.source === 'evidence'), 10_000);
    expect(gap.endedAt).toBeNull();
    const second = await connect(server.url, auth);
    try {
      expect((await send(second, 'agent:join', {})).ok).toBe(true);
      await waitFor('evidence gap closed', () => server.recordings.gaps(bookingId).find((g) => g.id === gap.id)?.endedAt, 10_000);
      expect(server.recordings.gaps(bookingId)).toHaveLength(1);
    } finally {
      second.disconnect();
    }
  });

  it('takes a booking\'s segments only within its window and the upload grace, never for another room\'s booking; each refusal audited', async () => {
    const key = await staffOf(server);
    const now = clock.local();
    // A later booking of the room: its window (escort buffer before the start, less 15 minutes) has not opened yet.
    const start = Math.ceil((now.minute + 60) / 5) * 5;
    const created = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: start, roomId: ROOM, caseNumber: 'A-2026-002', detaineeId: 'D-002', prosecutorId: 'pros-002', lawyerId: 'law-002' }), key);
    expect(created.status).toBe(201);
    const later = String(created.body['id']);
    const row = server.db.prepare('SELECT start_min, escort_before_min, end_min FROM bookings WHERE id = ?').get(later) as { start_min: number; escort_before_min: number; end_min: number };
    const opensAt = clock.toEpochMs(now.date, row.start_min - row.escort_before_min) - 15 * 60_000;
    const refusals = () => (server.db.prepare("SELECT detail FROM audit_entries WHERE action = 'evidence.upload_refused' AND subject = ?").all(`booking:${later}`) as Array<{ detail: string }>).map((r) => JSON.parse(r.detail) as { reason: string });
    const seg = (n: number) => `20261201T1${n}0000Z-0000${n}.ts`;
    try {
      expect(Date.now()).toBeLessThan(opensAt);
      const early = await put(ROOM, ROOM, { booking: later, name: seg(1) });
      expect(early.status).toBe(409);
      expect(await early.json()).toMatchObject({ error: 'before_window' });
      // Another room's agent, for its own room's path, but this room's booking.
      const foreign = await put(OTHER, OTHER, { booking: later, name: seg(1) });
      expect(foreign.status).toBe(403);
      expect(await foreign.json()).toMatchObject({ error: 'not_this_room' });
      // Within the window: taken; the recording ends.
      shiftMs = opensAt - Date.now() + 60_000;
      expect((await put(ROOM, ROOM, { booking: later, name: seg(2) })).status).toBe(201);
      const endedAt = clock.nowMs();
      server.recordings.finished(later, { at: new Date(endedAt).toISOString() });
      // The agent back from a network drop 29 minutes later: its kept segment is still taken.
      shiftMs += 29 * 60_000;
      const late = await put(ROOM, ROOM, { booking: later, name: seg(3), sha256: createHash('sha256').update(body.subarray(1)).digest('hex') }, body.subarray(1));
      expect(late.status).toBe(201);
      // 31 minutes after the end: refused, nothing stored.
      shiftMs += 2 * 60_000;
      const tooLate = await put(ROOM, ROOM, { booking: later, name: seg(4), sha256: createHash('sha256').update(body.subarray(2)).digest('hex') }, body.subarray(2));
      expect(tooLate.status).toBe(409);
      expect(await tooLate.json()).toMatchObject({ error: 'after_window', message: expect.stringContaining('30 minutes') });
      expect(server.recordings.segments(later, 'evidence').map((s) => s.path)).toEqual([`evidence/${seg(2)}`, `evidence/${seg(3)}`]);
      expect(refusals().map((r) => r.reason)).toEqual(['before_window', 'not_this_room', 'after_window']);
      expect(server.audit.verify()).toBeNull();

      // The agent's uploader sets a segment the server will never take aside (kept), and goes on with the others.
      const agentDir = path.join(server.config.dataDir, 'room-pc-late', 'evidence');
      const refusedFile = path.join(agentDir, later, seg(5));
      const liveFile = path.join(agentDir, bookingId, '20261201T103000Z-00009.ts');
      for (const [f, b] of [[refusedFile, later], [liveFile, bookingId]] as const) {
        mkdirSync(path.dirname(f), { recursive: true });
        writeFileSync(f, randomBytes(20_000));
        await sealSegment(f, { bookingId: b, roomId: ROOM, startedAt: '2026-12-01T02:30:00.000Z', endedAt: '2026-12-01T02:33:00.000Z' });
      }
      const uploader = new SegmentUploader({ serverUrl: server.url, roomId: ROOM, credential: server.secrets.agentCredentials[ROOM] ?? '', dir: agentDir, minDelayMs: 100 });
      uploader.start();
      try {
        await waitFor('refused segment set aside', () => existsSync(path.join(agentDir, '.refused', later, seg(5))) && existsSync(path.join(agentDir, '.refused', later, `${seg(5)}.json`)), 10_000);
        await waitFor('the other segment stored', () => server.recordings.segments(bookingId, 'evidence').some((x) => x.path.endsWith('-00009.ts')), 10_000);
        expect(uploader.refused).toBe(1);
        expect(existsSync(refusedFile)).toBe(false);
      } finally {
        uploader.stop();
      }
    } finally {
      shiftMs = 0;
    }
  });
});
