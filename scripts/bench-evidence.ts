// npm run bench:evidence -- [--seconds 30] [--rooms 10] [--mib 512] [--json]
//
// 1. A booking's session through the product: the room agent with the
//    beep-and-flash source renders the evidence video live and uploads its
//    segments, a prosecutor joins from headless Chromium, and the other rooms
//    are live meanwhile (synthetic agents in their standing sessions). From the
//    booking's end to its disc image being ready: readyAfterEndS. The room
//    agent's encoder CPU over the session: compositeCpuPercent. The prosecutor
//    and the lawyer (headless Chromium) flash and beep on whole seconds like
//    the room: each party's offset against the room in the evidence video,
//    partyAlignmentMs.
// 2. On the same disk, the same bytes: a plain copy (cp) beside the disc image
//    build (xorriso, hashed as written) and its verification (bsdtar stream).
// The image and the evidence video are kept (imagePath, videoPath).
import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { loadConfig, repoRoot } from '../server/config.js';
import { startServer } from '../server/app.js';
import { pino } from 'pino';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import { syntheticRoomAgent } from '../server/demo-agents.js';
import { RoomAgent } from '../room-agent/agent.js';
import { buildIso } from '../recordings/disc/iso.js';
import { verifyDisc } from '../recordings/disc/verify.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { measureCompositeLoad } from './bench/composite-load.js';
import { measureRecordLoad } from './bench/record-load.js';
import { staffMember } from '../test/helpers/staff.js';
import { benchPerson } from './lib/bench-people.js';
import { flashSourceBrowserArgs, useFlashSource } from '../test/helpers/flash-party.js';
import { insetRegion } from '../test/helpers/evidence-layout.js';
import { analyseAlignment, type AlignmentStat } from '../recordings/sync-analyser.js';
import { evidenceLayout } from '../room-agent/evidence/evidence-recorder.js';
import { allDayWindows, siteClockAt } from '../test/helpers/site-day.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}
const seconds = arg('seconds', 30);
const roomCount = arg('rooms', 10);
const mib = arg('mib', 512);
const json = process.argv.includes('--json');
const say = (msg: string) => { if (!json) process.stderr.write(`${msg}\n`); else process.stderr.write(`[bench] ${msg}\n`); };

async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = path.join(repoRoot, '.tmp', 'bench-evidence', stamp);
const dataDir = path.join(runDir, 'data');
mkdirSync(dataDir, { recursive: true });

/** The booking's remote parties: each flashes and beeps on whole seconds (its own pitch), like the room. */
const remoteParties = [
  { party: 'prosecutor' as const, id: 'pros-9001', role: 'prosecutor' as const, beepHz: 2500 },
  { party: 'lawyer' as const, id: 'law-9001', role: 'defence_lawyer' as const, beepHz: 4000 },
];
type PartyAlignmentMs = Record<string, { picture: AlignmentStat | null; sound: AlignmentStat | null }>;

async function session(): Promise<{ readyAfterEndS: number; compositeCpuPercent: number | null; imagePath: string; videoPath: string; rooms: number; segments: number; imageBytes: number; partyAlignmentMs: PartyAlignmentMs }> {
  const base = loadConfig({ env: {} });
  const rooms = base.site.rooms.slice(0, roomCount);
  const ROOM = rooms[rooms.length - 1]!.id;
  const config = loadConfig({
    env: {},
    overrides: {
      site: { ...base.site, rooms },
      schedule: { ...base.schedule, weeklyWindows: allDayWindows() },
      http: { host: '127.0.0.1', port: 0, publicUrl: '' },
      media: { ...base.media, listenIp: '127.0.0.1', announcedAddress: '', plainListenIp: '127.0.0.1' },
      dataDir, logLevel: 'warn', demo: { syntheticAgents: false, standingSessions: true },
    },
  });
  const clock = siteClockAt(config.site.timeZone, 10 * 60);
  // Logs go to stderr: stdout carries the one JSON object.
  const server = await startServer(config, pino({ level: 'warn' }, pino.destination(2)), { clock });
  // A member of detention-centre staff, signed in (cookie and CSRF token), books and steps the hearing.
  const staff = await staffMember(server);
  const api = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(`${server.url}${p}`, { method, headers: { ...staff.headers(method !== 'GET'), 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const j = (await r.json()) as Record<string, unknown>;
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(j)}`);
    return j;
  };
  const others = rooms.filter((r) => r.id !== ROOM).map((r) => syntheticRoomAgent({ port: server.port, config: server.config, secrets: server.secrets }, r.id, { workDir: path.join(dataDir, 'agents') }));
  const browser = await launchBrowser(flashSourceBrowserArgs);
  let agent: RoomAgent | null = null;
  try {
    for (const a of others) a.start();
    await until('the other rooms live', () => others.every((a) => a.state === 'live'), 60_000);
    say(`${others.length} other rooms live`);
    const now = clock.local();
    const booking = await api('POST', '/api/bookings', {
      caseNumber: '京朝检刑诉〔2026〕9001号', detaineeId: 'D-9001', procuratorateId: 'district-01', priorityClass: 'district', prosecutorId: 'pros-9001',
      lawyerRole: 'defence', lawyerId: 'law-9001', sessionKind: 'plea_hearing', date: now.date, requestedStart: Math.ceil((now.minute + 10) / 5) * 5, durationMin: 12, roomId: ROOM,
    });
    const bookingId = String(booking['id']);
    await api('POST', `/api/bookings/${bookingId}/status`, { status: 'escorting' });
    await api('POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' });
    const ffmpeg = findFfmpeg(config.ffmpegPath).path;
    agent = new RoomAgent({
      serverUrl: `http://127.0.0.1:${server.port}`, roomId: ROOM, roomName: rooms.find((r) => r.id === ROOM)!.name, credential: server.secrets.agentCredentials[ROOM] ?? '',
      ffmpegPath: ffmpeg, workDir: path.join(dataDir, 'room-pc'), capture: { kind: 'synthetic', pattern: 'beep-flash' }, sink: { kind: 'null' }, play: true,
      mediaIp: '127.0.0.1', healthIntervalMs: 1000, evidence: { segmentSeconds: 10 },
    });
    agent.start();
    const compositor = await until('the evidence video rendering', () => agent?.evidence?.current, 60_000);
    // The booked prosecutor and lawyer join by account.
    const contexts = [];
    for (const p of remoteParties) {
      const cookie = await benchPerson(server, p.id, [p.role]);
      const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
      const at = cookie.indexOf('=');
      await context.addCookies([{ name: cookie.slice(0, at), value: cookie.slice(at + 1), url: server.url }]);
      await useFlashSource(context, { clockOffsetMs: 0, beepHz: p.beepHz });
      const page = await context.newPage();
      await page.goto(`${server.url}/session?booking=${bookingId}`);
      contexts.push(context);
    }
    const cpu0 = compositor.cpuSeconds();
    const t0 = performance.now();
    say(`session of booking ${bookingId} running for ${seconds} s`);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu1 = compositor.cpuSeconds();
    const wall = (performance.now() - t0) / 1000;
    const compositeCpuPercent = cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / wall) * 1000) / 10 : null;
    for (const c of contexts) await c.close();

    // The session ends; the clock of readiness starts.
    const tEnd = performance.now();
    await api('POST', `/api/bookings/${bookingId}/status`, { status: 'finished' });
    await until('every evidence segment uploaded', () => agent!.evidence!.uploader.queued === 0 && !agent!.evidence!.current, 120_000);
    // The recorder finishes the recording when the booking ends; where it has not (yet), the bench does.
    if (server.recordings.recording(bookingId)?.status !== 'finished') server.recordings.finished(bookingId, { actor: 'bench' });
    const discs = await server.evidence.runBuild(bookingId, 'bench', config.evidence.medium, (step, f) => say(`build ${step} ${(f * 100).toFixed(0)}%`));
    const readyAfterEndS = Math.round(((performance.now() - tEnd) / 1000) * 10) / 10;
    const video = server.evidence.evidenceVideo(bookingId) ?? '';
    // Every party against the room in the evidence video, second by second (from when it shows).
    say('party alignment in the evidence video');
    const alignment = await analyseAlignment(video, { ffmpegPath: ffmpeg, parties: remoteParties.map((p) => ({ party: p.party, region: insetRegion(evidenceLayout.slotOf(p.party)), beepHz: p.beepHz })) });
    const partyAlignmentMs: PartyAlignmentMs = {};
    for (const p of alignment.parties) partyAlignmentMs[p.party] = { picture: p.video.stat, sound: p.audio?.stat ?? null };
    return {
      readyAfterEndS, compositeCpuPercent, imagePath: discs[0]!.imagePath, videoPath: video, rooms: rooms.length,
      segments: server.recordings.segments(bookingId).length, imageBytes: discs[0]!.bytes, partyAlignmentMs,
    };
  } finally {
    await agent?.stop().catch(() => undefined);
    await Promise.all(others.map((a) => a.stop().catch(() => undefined)));
    await browser.close().catch(() => undefined);
    await server.close();
  }
}

async function throughput(): Promise<{ cpMiBps: number; isoMiBps: number; imageHashMiBps: number; verifyMiBps: number; bytes: number; isoMethod: string }> {
  const dir = path.join(runDir, 'throughput');
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  // Incompressible bytes in four files, like a booking's video and originals.
  const block = randomBytes(4 << 20);
  const files: string[] = [];
  for (let i = 0; i < 4; i++) {
    const f = path.join(dir, 'src', `part-${i}.bin`);
    const fd = openSync(f, 'w');
    for (let w = 0; w < mib / 4 / 4; w++) { block[w % block.length] = (block[w % block.length]! + 1) & 0xff; writeSync(fd, block); }
    closeSync(fd);
    files.push(f);
  }
  const bytes = files.reduce((s, f) => s + statSync(f).size, 0);
  // Interleaved rounds (the machine is shared): the median of each.
  const copyDir = path.join(dir, 'copy');
  const image = path.join(dir, 'throughput.iso');
  const cp: number[] = [];
  const iso: number[] = [];
  const ver: number[] = [];
  const hashS: number[] = [];
  let isoMethod = '';
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (let round = 0; round < 3; round++) {
    mkdirSync(copyDir, { recursive: true });
    let t = performance.now();
    execFileSync('cp', [...files, copyDir]);
    execFileSync('sync', ['-f', path.join(copyDir, 'part-0.bin')]);
    cp.push((performance.now() - t) / 1000);
    rmSync(copyDir, { recursive: true, force: true });
    t = performance.now();
    // The product's path: xorriso's image streamed through SHA-256 to the file.
    const built = await buildIso({ grafts: files.map((f) => ({ discPath: `originals/${path.basename(f)}`, sourcePath: f })), output: image, epoch: 1_800_000_000, volumeId: 'BENCH' });
    const ts = performance.now();
    execFileSync('sync', ['-f', image]);
    // The image written by xorriso (and synced), as the copy is; its SHA-256 read-back apart.
    iso.push((built.writeMs + (performance.now() - ts)) / 1000);
    hashS.push(built.hashMs / 1000);
    isoMethod = built.method;
    t = performance.now();
    const report = await verifyDisc(image);
    ver.push((performance.now() - t) / 1000);
    if (!report.problems.every((p) => p.includes('manifest.json'))) throw new Error(`verify read failed: ${report.problems.join('; ')}`);
    rmSync(image, { force: true });
  }
  const cpS = median(cp);
  const isoS = median(iso);
  const verifyS = median(ver);
  rmSync(dir, { recursive: true, force: true });
  const m = bytes / 2 ** 20;
  return { cpMiBps: Math.round(m / cpS), isoMiBps: Math.round(m / isoS), imageHashMiBps: Math.round(m / median(hashS)), verifyMiBps: Math.round(m / verifyS), bytes, isoMethod };
}

const s = await session();
say(`disc image ready ${s.readyAfterEndS} s after the session's end`);
const tp = await throughput();
// The composite helper's measure of one room agent rendering live (encoder, inset decoders, agent clock), beep-and-flash room.
say('composite load of one room agent');
const composite = await measureCompositeLoad({ seconds: 20, main: 'beep-flash' });
// The recorder helper's measure: the server recording the originals of `rooms` three-way rooms at once while live.
say('record load of the rooms');
const record = await measureRecordLoad({ rooms: roomCount, seconds: 20, progress: say });
const result = {
  seconds, rooms: s.rooms,
  readyAfterEndS: s.readyAfterEndS,
  compositeCpuPercent: composite.compositeCpuPercent,
  // The encoder of the booking's own room agent during the session above.
  sessionEncoderCpuPercent: s.compositeCpuPercent,
  recordCpuPercentPerRoom: record.recordCpuPercentPerRoom,
  recordedRooms: record.rooms,
  lostPackets: record.lostPackets,
  isoMiBps: tp.isoMiBps, cpMiBps: tp.cpMiBps, isoToCp: Math.round((tp.isoMiBps / tp.cpMiBps) * 100) / 100, isoMethod: tp.isoMethod, imageHashMiBps: tp.imageHashMiBps, verifyMiBps: tp.verifyMiBps, throughputMiB: Math.round(tp.bytes / 2 ** 20),
  segments: s.segments, imageBytes: s.imageBytes, imagePath: s.imagePath, videoPath: s.videoPath,
  // Offset of each remote party against the room in the evidence video (ms, + = party late): median, worst, seconds paired.
  partyAlignmentMs: s.partyAlignmentMs,
  loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
};
console.log(json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
process.exit(0);
