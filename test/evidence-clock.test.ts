// The date and time burned into the evidence video are the server's session
// clock, not the room PC's: a room agent whose own clock is 3 h 7 min 41 s
// slow renders a booking's session; the burned-in time is read back from the
// uploaded segment's pixels with Tesseract (Debian's tesseract-ocr) and must
// be the server's time when the frame was rendered, and agree with the
// segment's stored start (its machine-readable copy).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { staffOf } from './helpers/staff.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { loadConfig } from '../server/config.js';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import { RoomAgent } from '../room-agent/agent.js';
import { recordingDir } from '../recordings/recording-store.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const ROOM = 'plea-1';
const SKEW_MS = -(3 * 3600 + 7 * 60 + 41) * 1000;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-evidence-clock-'));
const base = loadConfig({ env: {} });
const allDay = ['00:00-24:00'];
const overrides = {
  schedule: { ...base.schedule, weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } },
  site: { ...base.site, rooms: base.site.rooms.filter((r) => r.id === ROOM) },
};
const siteClock = new SiteClock(base.site.timeZone);
const ffmpeg = findFfmpeg(base.ffmpegPath).path;
let server: Server;
let agent: RoomAgent | null = null;

/** The burned-in "YYYY-MM-DD HH:MM:SS" (site time) of the frame at `atS`, read by OCR from the top-left clock box; epoch ms, or null. */
function burnedInTime(segment: string, atS: number, work: string): number | null {
  const png = path.join(work, `frame-${atS}.png`);
  // The clock box at (12, 12), font height/20 of a 576-line picture: crop, enlarge, make it dark text on white.
  execFileSync(ffmpeg, ['-v', 'error', '-y', '-i', segment, '-ss', String(atS), '-frames:v', '1', '-vf', 'crop=440:56:0:0,scale=iw*3:ih*3:flags=bicubic,format=gray,negate,lutyuv=y=if(gt(val\\,140)\\,255\\,0)', png]);
  const text = execFileSync('tesseract', [png, 'stdout', '--psm', '7', '-c', 'tessedit_char_whitelist=0123456789-:. '], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const m = /(\d{4})-(\d{2})-(\d{2})\s*(\d{2}):(\d{2}):(\d{2})/.exec(text.replace(/\s+/g, ' '));
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return siteClock.toEpochMs(`${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`, h * 60 + mi) + s * 1000;
}

beforeAll(async () => {
  server = await startTestServer({ dataDir, standingSessions: false, overrides });
});
afterAll(async () => {
  await agent?.stop();
  await server?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('burned-in time', () => {
  it('is the server\'s session clock even when the room PC\'s clock is hours wrong', async () => {
    const key = await staffOf(server);
    const now = siteClock.local();
    const created = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: Math.ceil((now.minute + 10) / 5) * 5, roomId: ROOM }), key);
    expect(created.status).toBe(201);
    const bookingId = String(created.body['id']);
    expect((await call(server.url, 'POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' }, key)).status).toBe(200);

    const joinedBefore = Date.now();
    agent = new RoomAgent({
      serverUrl: `http://127.0.0.1:${server.port}`, roomId: ROOM, roomName: server.config.site.rooms[0]!.name, credential: server.secrets.agentCredentials[ROOM] ?? '',
      ffmpegPath: ffmpeg, workDir: path.join(dataDir, 'room-pc'), capture: { kind: 'synthetic', pattern: 'beep-flash' }, sink: { kind: 'null' }, play: false,
      mediaIp: '127.0.0.1', healthIntervalMs: 1000, evidence: { segmentSeconds: 2 },
      // The room PC's clock is slow.
      roomClock: () => Date.now() + SKEW_MS,
    });
    agent.start();
    const first = await waitFor('the first evidence segment stored', () => server.recordings.segments(bookingId, 'evidence')[0], 120_000);
    const storedBy = Date.now();
    const file = path.join(recordingDir(server.config.dataDir, bookingId), first.path);
    const work = mkdtempSync(path.join(dataDir, 'ocr-'));
    // Read a few frames (the room's flash may whiten one); each is the server's time within the frame's second.
    const reads = [0.2, 0.6, 1.0, 1.4].map((at) => ({ at, t: burnedInTime(file, at, work) }));
    const read = reads.filter((r): r is { at: number; t: number } => r.t !== null);
    expect(read.length, JSON.stringify(reads)).toBeGreaterThanOrEqual(2);
    for (const r of read) {
      // Rendered between the agent's start and the segment's arrival, by the server's clock (one second's resolution).
      expect(r.t).toBeGreaterThanOrEqual(Math.floor(joinedBefore / 1000) * 1000 - 1000);
      expect(r.t).toBeLessThanOrEqual(storedBy);
      // The segment's stored start (from the same clock value) agrees with its picture.
      expect(Math.abs(r.t - (Date.parse(first.startedAt) + r.at * 1000))).toBeLessThan(1500);
    }
  });
});
