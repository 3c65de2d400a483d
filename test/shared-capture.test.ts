// One capture serves both the live RTP and the evidence video. The room agent
// runs its real devices code path (publisher + capture tap + compositor), with a
// lavfi beep-and-flash source standing in for v4l2 + ALSA (no camera here).
// Proves: only one process ever opens the source at a time, and it is the
// publisher; the room's RTP reaches the server while the evidence video is
// rendered from the same capture; the RTP keeps flowing while the encoder is
// frozen (SIGSTOP) and while it is killed and restarted; the evidence video
// goes on after the publisher itself is killed and restarted; A/V offset
// within 40 ms by the project's sync analyser.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { freeTcpPort, producerBytes } from './helpers/agent.js';
import { loadConfig } from '../server/config.js';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import { RoomAgent } from '../room-agent/agent.js';
import { beepFlashLavfi } from '../room-agent/beep-flash-clip.js';
import { analyseSync } from '../recordings/sync-analyser.js';
import { recordingDir } from '../recordings/recording-store.js';
import { staffOf } from './helpers/staff.js';
import { allDayWindows, siteClockAt } from './helpers/site-day.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const ROOM = 'plea-1';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-shared-capture-'));
const base = loadConfig({ env: {} });
const overrides = {
  schedule: { ...base.schedule, weeklyWindows: allDayWindows() },
  site: { ...base.site, rooms: base.site.rooms.filter((r) => r.id === ROOM) },
};
const clock = siteClockAt(base.site.timeZone, 10 * 60);
const ffmpeg = findFfmpeg(base.ffmpegPath).path;

// The stand-in "camera and microphone": its graph names this file, so a process
// that opened the source is recognised by its command line.
const marker = path.join(dataDir, 'stand-in-devices.txt');
writeFileSync(marker, 'Room 1 (lavfi stand-in)');
const graph = beepFlashLavfi({ roomId: ROOM, roomName: 'Room 1' }, marker);

let server: Server;
let agent: RoomAgent | null = null;
let sampler: NodeJS.Timeout | null = null;
/** Every pid whose command line opened the stand-in source, and the most at one time. */
const openers = new Set<number>();
let maxConcurrentOpeners = 0;

function scanOpeners(): void {
  let now = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes(marker) && cmd.includes('ffmpeg')) {
        openers.add(Number(entry));
        now++;
      }
    } catch {
      // gone
    }
  }
  maxConcurrentOpeners = Math.max(maxConcurrentOpeners, now);
}

beforeAll(async () => {
  const port = await freeTcpPort();
  server = await startTestServer({ dataDir, port, standingSessions: false, overrides, clock });
  sampler = setInterval(scanOpeners, 150);
});
afterAll(async () => {
  if (sampler) clearInterval(sampler);
  await agent?.stop();
  await server?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

const roomVideoBytes = async (): Promise<number> => {
  const party = server.registry.forBooking(bookingId)?.partyList().find((p) => p.role === 'room');
  return party ? ((await producerBytes(party.producerEntries()))['video'] ?? 0) : 0;
};
let bookingId = '';
/** The encoder reads the room from the tap on its stdin, and opens no capture source of its own. */
function expectReadsTap(pid: number): void {
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  expect(args.join(' ')).toContain('-f mpegts');
  expect(args).toContain('pipe:0');
  for (const source of ['lavfi', 'v4l2', 'alsa', 'pulse']) expect(args).not.toContain(source);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('one capture for the publisher and the evidence video (devices code path)', () => {
  it('publishes RTP and renders the evidence video from one capture process, in sync, through encoder and publisher restarts', async () => {
    const key = await staffOf(server);
    const now = clock.local();
    const created = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: Math.ceil((now.minute + 10) / 5) * 5, roomId: ROOM }), key);
    expect(created.status).toBe(201);
    bookingId = String(created.body['id']);
    expect((await call(server.url, 'POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' }, key)).status).toBe(200);

    agent = new RoomAgent({
      serverUrl: server.url,
      roomId: ROOM,
      roomName: server.config.site.rooms[0]!.name,
      credential: server.secrets.agentCredentials[ROOM] ?? '',
      ffmpegPath: ffmpeg,
      workDir: path.join(dataDir, 'room-pc'),
      capture: {
        kind: 'devices', videoDevice: '/dev/video-stand-in', audioDevice: 'stand-in', width: 1280, height: 720, fps: 25,
        // In place of v4l2 + ALSA: the live pattern, one clock for picture and sound, at real time.
        input: { inputs: [{ url: graph, options: ['-re', '-f', 'lavfi'] }], videoMap: '0:v:0', audioMap: '0:a:0' },
      },
      sink: { kind: 'null' },
      play: true,
      mediaIp: '127.0.0.1',
      healthIntervalMs: 1000,
      evidence: { segmentSeconds: 10 },
      log: (level, msg, extra) => level !== 'info' && process.stderr.write(`[agent ${level}] ${msg} ${extra?.['detail'] ?? ''}\n`),
    });
    agent.start();
    const a = agent;
    const tap = a.captureTap!;
    const ev = a.evidence!;
    expect(tap).not.toBeNull();

    const first = await waitFor('evidence video rendering', () => (ev.current && ev.current.framesEncoded > 100 ? ev.current : null), 90_000);
    const publisherPid = a.publisherPid!;
    expect(publisherPid).toBeGreaterThan(0);
    await waitFor('room RTP at the server', async () => (await roomVideoBytes()) > 50_000, 30_000);
    const compositorPids = new Set<number>([first.pid!]);
    expectReadsTap(first.pid!);
    // A killed encoder loses its open segment (as any crash): let the first one close before the disruptions.
    await sleep(8000);

    // 1. The encoder freezes (SIGSTOP, as a starved CPU would): the RTP goes on at its rate, the tap drops.
    const b0 = await roomVideoBytes();
    await sleep(4000);
    const b1 = await roomVideoBytes();
    const behindBefore = tap.droppedBehind;
    const inBefore = tap.bytesIn;
    process.kill(first.pid!, 'SIGSTOP');
    await sleep(6000);
    const capturedWhileFrozen = tap.bytesIn - inBefore;
    const b2 = await roomVideoBytes();
    process.kill(first.pid!, 'SIGCONT');
    const rateRunning = (b1 - b0) / 4;
    const rateFrozen = (b2 - b1) / 6;
    expect(rateFrozen).toBeGreaterThan(rateRunning * 0.6);
    // The tap took everything the publisher wrote, and dropped once the frozen encoder's queue was full.
    expect(capturedWhileFrozen, `captured ${capturedWhileFrozen} bytes while frozen`).toBeGreaterThan(3 * 1024 * 1024);
    expect(tap.droppedBehind).toBeGreaterThan(behindBefore);

    // 2. The encoder is killed: the RTP goes on (same publisher), a new run renders from the same capture.
    const runsBefore = ev.runs;
    const detachedBefore = tap.droppedDetached;
    const b3 = await roomVideoBytes();
    process.kill(first.pid!, 'SIGKILL');
    const second = await waitFor('a new evidence run', () => (ev.runs > runsBefore && ev.current && ev.current.framesEncoded > 50 ? ev.current : null), 30_000);
    compositorPids.add(second.pid!);
    expectReadsTap(second.pid!);
    expect(await roomVideoBytes()).toBeGreaterThan(b3 + 10_000);
    expect(tap.droppedDetached).toBeGreaterThan(detachedBefore);
    expect(a.publisherPid).toBe(publisherPid);

    // 3. The publisher is killed: the agent restarts it, and the evidence video goes on from the new capture.
    const runsBefore2 = ev.runs;
    process.kill(publisherPid, 'SIGKILL');
    const third = await waitFor('a run on the restarted capture', () => (a.publisherPid && a.publisherPid !== publisherPid && ev.runs > runsBefore2 && ev.current && ev.current.framesEncoded > 50 ? ev.current : null), 30_000);
    compositorPids.add(third.pid!);
    expectReadsTap(third.pid!);
    const b4 = await roomVideoBytes();
    await sleep(14_000);
    expect(await roomVideoBytes()).toBeGreaterThan(b4 + 20_000);

    expect((await call(server.url, 'POST', `/api/bookings/${bookingId}/status`, { status: 'finished' }, key)).status).toBe(200);
    await waitFor('every segment uploaded', () => ev.uploader.queued === 0 && !ev.current, 30_000);

    // Only one process ever opened the source at a time: the publisher (first run, then its restart).
    scanOpeners();
    expect(maxConcurrentOpeners).toBe(1);
    expect(openers.has(publisherPid)).toBe(true);
    expect(openers.size).toBe(2);
    for (const pid of compositorPids) expect(openers.has(pid)).toBe(false);

    // The evidence video (all runs joined as the disc does): in sync by the project's analyser.
    const dir = recordingDir(server.config.dataDir, bookingId);
    const segments = server.recordings.segments(bookingId, 'evidence');
    // The first run's closed segment(s) and the last run's; a killed run's open segment is lost (a gap).
    expect(segments.length).toBeGreaterThanOrEqual(2);
    const list = path.join(dataDir, 'evidence.txt');
    writeFileSync(list, segments.map((s) => `file '${path.join(dir, s.path)}'`).join('\n') + '\n');
    const video = path.join(dataDir, 'evidence.mp4');
    execFileSync(ffmpeg, ['-v', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', video]);
    const report = await analyseSync(video, { ffmpegPath: ffmpeg });
    console.log(JSON.stringify({ sharedCapture: { pairs: report.pairs.length, start: report.start, overall: report.overall, tap: { bytesIn: tap.bytesIn, forwarded: tap.bytesForwarded, droppedBehind: tap.droppedBehind, droppedDetached: tap.droppedDetached } } }));
    // About 20 s of closed segments: a flash and a beep each second.
    expect(report.pairs.length).toBeGreaterThanOrEqual(15);
    expect(Math.abs(report.start!.offsetMs)).toBeLessThanOrEqual(40);
    expect(report.overall!.maxAbsMs).toBeLessThanOrEqual(40);
  }, 240_000);
});
