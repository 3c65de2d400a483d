// The room agent's live evidence video, end to end with the real parts: a
// booking's session with a beep-and-flash room (the real RoomAgent, in this
// process) and a prosecutor in headless Chromium. The agent renders the
// picture-in-picture live, seals and uploads its segments; the server stores
// them in the booking's hash chain. Then: the joined evidence video's duration,
// codecs and size; the A/V offset by the project's sync analyser, and the same
// analyser catching a 120 ms shift; the picture going on when the inset party
// leaves; segments kept through a server restart and uploaded after it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { freeTcpPort } from './helpers/agent.js';
import { launchBrowser, openSessionPage } from './helpers/browser.js';
import { makeUser, signIn } from './helpers/accounts.js';
import { loadConfig } from '../server/config.js';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import { RoomAgent } from '../room-agent/agent.js';
import { analyseSync } from '../recordings/sync-analyser.js';
import { recordingDir } from '../recordings/recording-store.js';
import { staffOf } from './helpers/staff.js';
import { allDayWindows, siteClockAt } from './helpers/site-day.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const ROOM = 'plea-1';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-evidence-'));
const base = loadConfig({ env: {} });
const overrides = {
  schedule: { ...base.schedule, weeklyWindows: allDayWindows() },
  site: { ...base.site, rooms: base.site.rooms.filter((r) => r.id === ROOM) },
};
const clock = siteClockAt(base.site.timeZone, 10 * 60);
const ffmpeg = findFfmpeg(base.ffmpegPath).path;
const ffprobe = path.join(path.dirname(ffmpeg), 'ffprobe');

let port: number;
let server: Server;
let browser: Browser;
let agent: RoomAgent | null = null;
let page: Page | null = null;
let bookingId = '';

function newAgent(s: Server): RoomAgent {
  return new RoomAgent({
    serverUrl: `http://127.0.0.1:${s.port}`,
    roomId: ROOM,
    roomName: s.config.site.rooms[0]!.name,
    credential: s.secrets.agentCredentials[ROOM] ?? '',
    ffmpegPath: ffmpeg,
    workDir: path.join(dataDir, 'room-pc'),
    capture: { kind: 'synthetic', pattern: 'beep-flash' },
    sink: { kind: 'null' },
    play: true,
    mediaIp: '127.0.0.1',
    healthIntervalMs: 1000,
    evidence: { segmentSeconds: 10 },
    log: (level, msg, extra) => level !== 'info' && process.stderr.write(`[agent ${level}] ${msg} ${extra?.['detail'] ?? ''}\n`),
  });
}

const start = () => startTestServer({ dataDir, port, standingSessions: false, overrides, clock });
const pending = () => (existsSync(path.join(dataDir, 'room-pc', 'evidence', bookingId)) ? readdirSync(path.join(dataDir, 'room-pc', 'evidence', bookingId)).filter((f) => f.endsWith('.ts.json')) : []);

function probe(file: string): { duration: number; streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }> } {
  const out = execFileSync(ffprobe, ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,codec_name,width,height', '-of', 'json', file]).toString();
  const j = JSON.parse(out) as { format: { duration: string }; streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }> };
  return { duration: Number(j.format.duration), streams: j.streams };
}

/** Joins the booking's stored evidence segments, in chain order, with the concat demuxer and -c copy (as the disc does). */
function joinStored(s: Server, id: string, out: string): void {
  const dir = recordingDir(s.config.dataDir, id);
  const list = s.recordings.segments(id, 'evidence').map((seg) => `file '${path.join(dir, seg.path)}'`).join('\n');
  writeFileSync(`${out}.txt`, list + '\n');
  execFileSync(ffmpeg, ['-v', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', `${out}.txt`, '-c', 'copy', out]);
}

beforeAll(async () => {
  port = await freeTcpPort();
  server = await start();
  const wav = path.join(dataDir, 'prosecutor.wav');
  // The prosecutor speaks a quiet 300 Hz tone: Chromium's default fake microphone beeps too.
  execFileSync(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=300:r=48000:d=30,volume=0.1', '-ac', '1', wav]);
  browser = await launchBrowser([`--use-file-for-fake-audio-capture=${wav}`]);
});
afterAll(async () => {
  await page?.context().close().catch(() => undefined);
  await agent?.stop();
  await browser?.close();
  await server?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('evidence video rendered live by the room agent', () => {
  it('records a 30 s session: duration, H.264 + AAC at 1024x576, A/V offset within 40 ms, and goes on when the inset party leaves', async () => {
    const key = await staffOf(server);
    const now = clock.local();
    const created = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: Math.ceil((now.minute + 10) / 5) * 5, roomId: ROOM }), key);
    expect(created.status).toBe(201);
    bookingId = String(created.body['id']);
    expect((await call(server.url, 'POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' }, key)).status).toBe(200);

    agent = newAgent(server);
    agent.start();
    const compositor = await waitFor('evidence video rendering', () => agent?.evidence?.current, 120_000);
    // The evidence video begins at its first frame: when the encoder started (the session clock it burns in).
    await waitFor('encoder started', () => compositor.clockCalibrated, 30_000);
    const sessionStart = compositor.clockAtStartMs;
    // The booked prosecutor joins by account (bookingRequest's prosecutor).
    const prosecutor = await signIn(server, await makeUser(server, ['prosecutor'], { id: 'pros-001' }));
    page = await openSessionPage(browser, `${server.url}/session?booking=${bookingId}`, prosecutor.cookie);
    // The prosecutor's picture reaches its inset (decoded frames arrive in slot 0).
    await waitFor('prosecutor inset frames', () => (compositor.insetFramesIn[0] ?? 0) > 25, 60_000).catch((err: unknown) => {
      const session = server.registry.forBooking(bookingId);
      const parties = session?.partyList().map((p) => `${p.role}:${p.producerEntries().length}p/${p.consumerList().length}c`);
      throw new Error(`${(err as Error).message} (parties ${JSON.stringify(parties)}, players ${JSON.stringify(agent?.playerStats())})`);
    });

    // Mid-session the prosecutor leaves: the room's picture must go on.
    await waitFor('15 s into the session', () => Date.now() - sessionStart > 15_000, 20_000);
    const leftAtS = (Date.now() - sessionStart) / 1000;
    await page.context().close();
    page = null;
    const insetBefore = compositor.insetFramesIn[0]!;
    const framesAtLeave = compositor.framesEncoded;
    await new Promise((r) => setTimeout(r, 8000));
    const framesAfter = compositor.framesEncoded - framesAtLeave;
    // The inset stopped (its party is gone) while the encoder kept its 25 fps (>= 20 fps measured over 8 s).
    expect(compositor.insetFramesIn[0]! - insetBefore).toBeLessThan(15);
    expect(framesAfter).toBeGreaterThan(8 * 20);

    await waitFor('32 s into the session', () => Date.now() - sessionStart > 32_000, 20_000);
    expect((await call(server.url, 'POST', `/api/bookings/${bookingId}/status`, { status: 'finished' }, key)).status).toBe(200);
    const sessionS = (Date.now() - sessionStart) / 1000;
    // The session's end stops the run: its last, partial segment is closed by the encoder, sealed, then uploaded.
    await waitFor('the last run ended', () => !agent!.evidence!.current, 30_000);
    await agent!.evidence!.settled;
    await waitFor('every segment uploaded', () => agent!.evidence!.uploader.queued === 0 && pending().length === 0, 30_000);

    const segments = server.recordings.segments(bookingId, 'evidence');
    expect(segments.length).toBeGreaterThanOrEqual(3);
    expect(segments.every((s) => s.container === 'ts' && s.track === 'evidence')).toBe(true);
    expect(await server.recordings.verifyChain(bookingId, recordingDir(server.config.dataDir, bookingId))).toMatchObject({ ok: true });

    const video = path.join(dataDir, 'evidence.mp4');
    joinStored(server, bookingId, video);
    const p = probe(video);
    expect(Math.abs(p.duration - sessionS)).toBeLessThan(1);
    const v = p.streams.find((s) => s.codec_type === 'video');
    const a = p.streams.find((s) => s.codec_type === 'audio');
    expect(v?.codec_name).toBe('h264');
    expect(a?.codec_name).toBe('aac');
    expect(v!.width!).toBeGreaterThanOrEqual(720);
    expect(v!.height!).toBeGreaterThanOrEqual(576);

    const report = await analyseSync(video, { ffmpegPath: ffmpeg });
    // A flash and a beep every second, the whole session long.
    expect(report.pairs.length).toBeGreaterThanOrEqual(Math.floor(sessionS) - 3);
    expect(Math.abs(report.start!.offsetMs)).toBeLessThanOrEqual(40);
    expect(report.overall!.maxAbsMs).toBeLessThanOrEqual(40);
    // No frozen picture: flashes keep their 1 s period through the prosecutor's leaving.
    expect(report.longestFlashGapS!).toBeLessThan(1.1);
    expect(report.flashes.some((f) => f > leftAtS + 5)).toBe(true);
    console.log(JSON.stringify({ evidence: { durationS: p.duration, sessionS, start: report.start, overall: report.overall, pairs: report.pairs.length } }));

    // The analyser catches a shifted sound track: 120 ms late is reported as such, outside 40 ms.
    const shifted = path.join(dataDir, 'shifted.mp4');
    execFileSync(ffmpeg, ['-v', 'error', '-y', '-i', video, '-itsoffset', '0.12', '-i', video, '-map', '0:v', '-map', '1:a', '-c', 'copy', shifted]);
    const bad = await analyseSync(shifted, { ffmpegPath: ffmpeg });
    expect(Math.abs(bad.start!.offsetMs - report.start!.offsetMs - 120)).toBeLessThan(10);
    expect(Math.abs(bad.start!.offsetMs)).toBeGreaterThan(40);
  }, 180_000);

  it('keeps a segment through a server restart and uploads it after', async () => {
    const key = await staffOf(server);
    const now = clock.local();
    const created = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: Math.ceil((now.minute + 30) / 5) * 5, roomId: ROOM, caseNumber: 'A-2026-002' }), key);
    expect(created.status).toBe(201);
    bookingId = String(created.body['id']);
    expect((await call(server.url, 'POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' }, key)).status).toBe(200);
    await waitFor('evidence video rendering', () => agent?.evidence?.current, 60_000);
    await new Promise((r) => setTimeout(r, 4000));

    // The server goes away: the run's segment closes on the room PC and cannot be uploaded.
    // (Uploads are held while the server shuts down, which can take a moment: the segment
    // must close with nobody to take it, not slip through during the shutdown.)
    agent!.evidence!.uploader.stop();
    await server.close();
    await waitFor('run ended', () => agent!.evidence!.current === null, 20_000);
    agent!.evidence!.uploader.start();
    const kept = await waitFor('segment sealed and kept on the room PC', () => (agent!.evidence!.current === null && pending().length > 0 ? pending() : null), 20_000).catch((err: unknown) => {
      const d = path.join(dataDir, 'room-pc', 'evidence');
      const listing = existsSync(d) ? readdirSync(d).map((b) => `${b}: ${readdirSync(path.join(d, b)).join(',')}`) : [];
      throw new Error(`${(err as Error).message} (booking ${bookingId}, rendering ${agent?.evidence?.current !== null}, runs ${agent?.evidence?.runs}, state ${agent?.state}, files ${JSON.stringify(listing)})`);
    });
    await new Promise((r) => setTimeout(r, 2500)); // retries fail meanwhile
    expect(pending()).toEqual(kept);
    expect(agent!.evidence!.uploader.failures).toBeGreaterThan(0);

    server = await start();
    // The booking's session comes back; the kept segment is uploaded and only then removed.
    await waitFor('kept segment stored after the restart', () => {
      const names = server.recordings.segments(bookingId, 'evidence').map((s) => path.basename(s.path) + '.json');
      return kept.every((k) => names.includes(k));
    }, 30_000);
    await waitFor('local copy removed once confirmed', () => kept.every((k) => !pending().includes(k)), 10_000);
    expect(await server.recordings.verifyChain(bookingId, recordingDir(server.config.dataDir, bookingId))).toMatchObject({ ok: true });
  }, 120_000);
});
