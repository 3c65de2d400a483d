// The cost of recording the originals, through the product: a real server
// (workers, sessions, the recorder), booked rooms whose room agent (synthetic
// camera and microphone) and two remote parties (prosecutor, lawyer: synthetic
// plain-RTP senders) are live, every track recorded by the server's recorder.
//
//   recordCpuPercentPerRoom  CPU of the recorder's ffmpeg processes for one three-way room (6 tracks), % of one core
//   rooms, lostPackets       N rooms recorded at once while live: packets lost on the live path (sender -> mediasoup,
//                            mediasoup's producer stats), reported lost by the recorder's receivers (their RTCP
//                            receiver reports) and dropped by the kernel at the recorder's sockets (/proc/net/udp)
//
// Used by `npm run bench:evidence` (measureRecordLoad) and on its own:
//   npm run bench:record -- [--rooms 10] [--seconds 20] [--json]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { types } from 'mediasoup';
import { loadConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/app.js';
import { createRootLogger } from '../../server/logger.js';
import { syntheticRoomAgent } from '../../server/demo-agents.js';
import type { RoomAgent } from '../../room-agent/agent.js';
import type { TrackRecorder } from '../../recordings/track-recorder.js';
import { syntheticParty, type SyntheticParty } from '../../test/helpers/synthetic-party.js';
import { allDayOverrides, bookInRoom, tenOClock } from '../../test/helpers/recording.js';

export interface RecordLoad {
  recordCpuPercentPerRoom: number;
  rooms: number;
  lostPackets: number;
  lostPacketsDetail: { live: number; recorderReported: number; kernelDrops: number };
  packetsRecorded: number;
  recorderCpuPercentAllRooms: number;
  workerCpuPercentAllRooms: number;
  tracksRecorded: number;
  segments: number;
  seconds: number;
}

export interface RecordLoadOptions {
  rooms?: number;
  seconds?: number;
  progress?: (msg: string) => void;
}

function cpuSecondsOfPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Kernel drops of the UDP sockets bound to these local ports (last column of /proc/net/udp). */
function udpDrops(ports: Set<number>): number {
  let drops = 0;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const local = cols[1];
    if (!local) continue;
    const port = parseInt(local.split(':')[1] ?? '', 16);
    if (ports.has(port)) drops += Number(cols[cols.length - 1] ?? 0);
  }
  return drops;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, fn: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(250);
  }
  throw new Error(`bench: timed out waiting for ${what}`);
}

interface Room {
  bookingId: string;
  roomId: string;
  agent: RoomAgent;
  parties: SyntheticParty[];
}

function recordersOf(server: RunningServer, rooms: Room[]): TrackRecorder[] {
  return rooms.flatMap((r) => server.recorder.recording(r.bookingId)?.trackRecorders() ?? []);
}

async function window(server: RunningServer, rooms: Room[], seconds: number) {
  const recorders = recordersOf(server, rooms);
  const pids = recorders.map((t) => t.pid).filter((p): p is number => p !== null);
  const ports = new Set(recorders.flatMap((t) => (t.port === null ? [] : [t.port, t.port + 1])));
  const producers: types.Producer[] = rooms.flatMap((r) => server.registry.forBooking(r.bookingId)?.partyList().flatMap((p) => p.producerEntries().map((e) => e.producer)) ?? []);
  const consumers = recorders.map((t) => t.consumer).filter((c): c is types.Consumer => c !== null);
  const live = async () => (await Promise.all(producers.map((p) => p.getStats()))).flat().reduce((n, s) => n + (s.packetsLost ?? 0), 0);
  const out = async () => {
    const stats = (await Promise.all(consumers.map((c) => c.getStats()))).flat().filter((s) => s.type === 'outbound-rtp');
    return { sent: stats.reduce((n, s) => n + (s.packetCount ?? 0), 0), lost: stats.reduce((n, s) => n + (s.packetsLost ?? 0), 0) };
  };
  const workers = server.pool.pids();
  const f0 = pids.reduce((n, p) => n + cpuSecondsOfPid(p), 0);
  const w0 = workers.reduce((n, p) => n + cpuSecondsOfPid(p), 0);
  const l0 = await live();
  const o0 = await out();
  const d0 = udpDrops(ports);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const f1 = pids.reduce((n, p) => n + cpuSecondsOfPid(p), 0);
  const w1 = workers.reduce((n, p) => n + cpuSecondsOfPid(p), 0);
  const l1 = await live();
  const o1 = await out();
  const d1 = udpDrops(ports);
  const stillSame = recordersOf(server, rooms).every((t) => t.pid === null || pids.includes(t.pid));
  return {
    recorderCpuPercent: (100 * (f1 - f0)) / elapsed,
    workerCpuPercent: (100 * (w1 - w0)) / elapsed,
    live: l1 - l0,
    recorderReported: Math.max(0, o1.lost - o0.lost),
    kernelDrops: d1 - d0,
    packetsRecorded: o1.sent - o0.sent,
    tracks: recorders.length,
    restartsDuringWindow: !stillSame,
  };
}

export async function measureRecordLoad(options: RecordLoadOptions = {}): Promise<RecordLoad> {
  const roomsWanted = options.rooms ?? 10;
  const seconds = options.seconds ?? 20;
  const progress = options.progress ?? (() => undefined);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-bench-record-'));
  const base = loadConfig({ env: {} });
  if (roomsWanted > base.site.rooms.length) throw new Error(`bench: at most ${base.site.rooms.length} rooms are configured`);
  const config = loadConfig({
    env: {},
    overrides: {
      ...allDayOverrides,
      site: { ...base.site, rooms: base.site.rooms.slice(0, roomsWanted) },
      http: { host: '127.0.0.1', port: 0, publicUrl: '' },
      media: { ...base.media, listenIp: '127.0.0.1', announcedAddress: '', plainListenIp: '127.0.0.1' },
      dataDir,
      logLevel: 'error',
      demo: { syntheticAgents: false, standingSessions: false },
      recording: { ...base.recording, segmentSeconds: 10, diskReserveMiB: 256, diskStopMiB: 64 },
    },
  });
  const server = await startServer(config, createRootLogger(config.logLevel), { clock: tenOClock });
  const rooms: Room[] = [];
  try {
    const open = async (roomId: string) => {
      const booking = await bookInRoom(server, roomId);
      if (booking.status !== 200) throw new Error(`bench: booking of ${roomId} not in its room: ${JSON.stringify(booking.body)}`);
      const agent = syntheticRoomAgent(server, roomId, { healthIntervalMs: 5000, workDir: path.join(dataDir, 'agents') });
      agent.start();
      const parties = [await syntheticParty(server, roomId, 'prosecutor', '检察官'), await syntheticParty(server, roomId, 'lawyer', '律师')];
      const room = { bookingId: booking.id, roomId, agent, parties };
      rooms.push(room);
      await waitUntil(`${roomId} recorded`, () => (server.recorder.recording(booking.id)?.trackRecorders().filter((t) => t.recording).length ?? 0) === 6, 60_000);
      return room;
    };
    progress('one room: recording six tracks');
    const first = await open(config.site.rooms[0]!.id);
    await sleep(2000);
    const one = await window(server, [first], seconds);
    progress(`one room: recorder ${one.recorderCpuPercent.toFixed(2)}% of a core`);
    for (const r of config.site.rooms.slice(1)) {
      progress(`opening ${r.id}`);
      await open(r.id);
    }
    await sleep(3000);
    progress(`${rooms.length} rooms recorded at once for ${seconds} s`);
    const all = await window(server, rooms, seconds);
    const segments = rooms.reduce((n, r) => n + server.recordings.segments(r.bookingId, 'original').length, 0);
    const lost = all.live + all.recorderReported + all.kernelDrops;
    return {
      recordCpuPercentPerRoom: Math.round(one.recorderCpuPercent * 100) / 100,
      rooms: rooms.length,
      lostPackets: lost,
      lostPacketsDetail: { live: all.live, recorderReported: all.recorderReported, kernelDrops: all.kernelDrops },
      packetsRecorded: all.packetsRecorded,
      recorderCpuPercentAllRooms: Math.round(all.recorderCpuPercent * 10) / 10,
      workerCpuPercentAllRooms: Math.round(all.workerCpuPercent * 10) / 10,
      tracksRecorded: all.tracks,
      segments,
      seconds,
    };
  } finally {
    for (const r of rooms) for (const p of r.parties) p.publisher.stop();
    for (const r of rooms) r.agent.stop();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const num = (name: string, dflt: number) => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(argv[i + 1]) : dflt;
    if (!Number.isInteger(v) || v < 1) {
      console.error(`bench:record: --${name} must be a positive integer`);
      process.exit(2);
    }
    return v;
  };
  const json = argv.includes('--json');
  measureRecordLoad({ rooms: num('rooms', 10), seconds: num('seconds', 20), progress: (m) => process.stderr.write(`[bench:record] ${m}\n`) }).then(
    (r) => {
      const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', loadAverage: os.loadavg().map((x) => Math.round(x * 10) / 10), node: process.version };
      const out = { ...r, machine, date: new Date().toISOString() };
      console.log(json ? JSON.stringify(out) : JSON.stringify(out, null, 2));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(`bench:record failed: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    }
  );
}
