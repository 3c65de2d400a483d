// npm run bench:media -- --rooms N --seconds S [--joins K] [--json]
//
// Runs N three-way sessions through the product (WorkerPool, SessionRegistry,
// Session, Party: one Router per session, 6 producers and 12 consumers per
// room) with synthetic parties: one ffmpeg copy-sender per room feeds the three
// parties' camera and microphone over PlainTransports. Consumers send to a
// bound-but-unread UDP socket, so the kernel drops their packets at no user
// cost. Then the same topology and load on bare mediasoup (Worker, Router,
// transports, producers, consumers: none of the product's code) gives the
// baseline. Finally, with the product load still on, headless Chromium joins a
// session K times as a prosecutor, camera already open, and the time from the
// join request to the first decoded remote frame is measured.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import Type from 'typebox';
import { checker } from '../server/validation.js';
import { loadConfig } from '../server/config.js';
import { startServer, type RunningServer } from '../server/app.js';
import { createRootLogger } from '../server/logger.js';
import { mediaCodecs } from '../server/media/worker-pool.js';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import { ensureSyntheticClip } from '../room-agent/synthetic-clip.js';
import type { PlainPublishTarget, PlainTrack } from '../server/signalling/protocol.js';
import { launchBrowser, openSessionPage } from '../test/helpers/browser.js';

const Options = Type.Object({
  rooms: Type.Integer({ minimum: 1, maximum: 100 }),
  seconds: Type.Integer({ minimum: 3, maximum: 600 }),
  joins: Type.Integer({ minimum: 0, maximum: 50 }),
  json: Type.Boolean(),
});

function parseArgs(argv: string[]): { rooms: number; seconds: number; joins: number; json: boolean } {
  const raw: Record<string, unknown> = { rooms: 10, seconds: 20, joins: 7, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--json') raw['json'] = true;
    else if (a.startsWith('--')) raw[a.slice(2)] = Number(argv[++i]);
  }
  const checked = checker(Options).check(raw);
  if (!checked.ok) {
    console.error(`bench:media: ${checked.message}`);
    process.exit(2);
  }
  return checked.value;
}

const opts = parseArgs(process.argv.slice(2));
const progress = (msg: string) => process.stderr.write(`[bench:media] ${msg}\n`);
const ffmpegPath = findFfmpeg().path;
const workDir = mkdtempSync(path.join(os.tmpdir(), 'plea-bench-'));

// --- load generators ---------------------------------------------------------
const roles = ['room', 'prosecutor', 'lawyer'] as const;
/** Each track is sent from its own fixed source ports (as the room agent does), so transports accept only that sender. */
function tracksFor(room: number, party: number): PlainTrack[] {
  const base = 20_000_000 + room * 100 + party * 2;
  const port = 50_000 + (room * 3 + party) * 4;
  return [
    { kind: 'video', source: 'camera', mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, ssrc: base, sourcePort: port, sourceRtcpPort: port + 1 },
    { kind: 'audio', source: 'microphone', mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, ssrc: base + 1, sourcePort: port + 2, sourceRtcpPort: port + 3 },
  ];
}

/** One ffmpeg per room sends all three parties' audio and video (copy, looped clip). */
function startSender(clip: string, room: number, targets: PlainPublishTarget[][]): ChildProcess {
  const args = ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip];
  targets.forEach((partyTargets, party) => {
    for (const t of partyTargets) {
      const track = tracksFor(room, party).find((x) => x.kind === t.kind);
      if (!track) continue;
      const local = `&localrtpport=${track.sourcePort}&localrtcpport=${track.sourceRtcpPort}`;
      args.push('-map', t.kind === 'video' ? '0:v:0' : '0:a:0', '-c', 'copy', '-payload_type', String(track.payloadType), '-ssrc', String(track.ssrc), '-f', 'rtp', `rtp://${t.ip}:${t.port}?rtcpport=${t.rtcpPort}&pkt_size=1200${local}`);
    }
  });
  return spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** A UDP port pair that is bound and never read: the kernel drops what arrives. */
function startSink(): Promise<{ proc: ChildProcess; port: number }> {
  const code = [
    'import socket, sys, time',
    'for _ in range(50):',
    '  a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]',
    '  if p % 2: a.close(); continue',
    '  b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    '  try: b.bind(("127.0.0.1", p + 1))',
    '  except OSError: a.close(); continue',
    '  break',
    'print(p, flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const proc = spawn('python3', ['-c', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    proc.stdout?.once('data', (d: Buffer) => resolve({ proc, port: Number(d.toString().trim()) }));
    proc.once('error', reject);
  });
}

function cpuSecondsOfPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

function rssMiBOfPid(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

interface Window {
  workerCpuPercent: number;
  serverCpuPercent: number;
  packetsForwarded: number;
  packetsReceived: number;
  packetsLost: number;
}

async function measure(workerPids: number[], producers: types.Producer[], consumers: types.Consumer[], seconds: number): Promise<Window> {
  // A consumer's getStats() holds its own outbound-rtp and its producer's
  // inbound-rtp: count the outbound only, or every packet counts twice.
  const sumConsumers = async () =>
    (await Promise.all(consumers.map((c) => c.getStats()))).flat().reduce((n, s) => n + (s.type === 'outbound-rtp' ? (s.packetCount ?? 0) : 0), 0);
  const sumProducers = async () => {
    const stats = (await Promise.all(producers.map((p) => p.getStats()))).flat();
    return { received: stats.reduce((n, s) => n + (s.packetCount ?? 0), 0), lost: stats.reduce((n, s) => n + (s.packetsLost ?? 0), 0) };
  };
  const w0 = workerPids.reduce((n, pid) => n + cpuSecondsOfPid(pid), 0);
  const s0 = process.cpuUsage();
  const c0 = await sumConsumers();
  const p0 = await sumProducers();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const w1 = workerPids.reduce((n, pid) => n + cpuSecondsOfPid(pid), 0);
  const s1 = process.cpuUsage(s0);
  const c1 = await sumConsumers();
  const p1 = await sumProducers();
  return {
    workerCpuPercent: (100 * (w1 - w0)) / elapsed,
    serverCpuPercent: (100 * (s1.user + s1.system)) / 1e6 / elapsed,
    packetsForwarded: c1 - c0,
    packetsReceived: p1.received - p0.received,
    packetsLost: p1.lost - p0.lost,
  };
}

async function waitForRtp(producers: types.Producer[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const stats = await Promise.all(producers.map((p) => p.getStats()));
    if (stats.every((s) => s.some((x) => (x.packetCount ?? 0) > 0))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('producers did not receive RTP');
}

const median = (xs: number[]) => percentile(xs, 50);
function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

// --- product run ---------------------------------------------------------------
async function productRun(clip: string, sinkPort: number): Promise<{ window: Window; rssMiB: number; server: RunningServer; senders: ChildProcess[] }> {
  const base = loadConfig({ env: {} });
  const rooms = Array.from({ length: opts.rooms }, (_, i) => ({ id: `bench-${i + 1}`, kind: 'plea' as const, name: `压测房间${i + 1}`, nameEn: `Bench room ${i + 1}` }));
  const config = loadConfig({
    env: {},
    overrides: {
      site: { ...base.site, rooms },
      http: { host: '127.0.0.1', port: 0, publicUrl: '' },
      // Plain transports without RTCP mux take two ports each: 36 per bench room.
      // announcedAddress '' as well: the base config, listening on every address,
      // announces the host's LAN address, which a server listening on loopback
      // never answers (every browser join then fails: no remote frame).
      media: { ...base.media, workers: 1, listenIp: '127.0.0.1', announcedAddress: '', plainListenIp: '127.0.0.1', rtcMinPort: 10000, rtcMaxPort: 44999 },
      dataDir: path.join(workDir, 'data'),
      logLevel: 'warn',
      demo: { syntheticAgents: false, standingSessions: true },
    },
  });
  const server = await startServer(config, createRootLogger('warn'));
  const producers: types.Producer[] = [];
  const consumers: types.Consumer[] = [];
  const senders: ChildProcess[] = [];
  const setupRooms = async () => {
  for (let r = 0; r < opts.rooms; r++) {
    const session = server.registry.forRoom(rooms[r]?.id ?? '');
    if (!session) throw new Error('session missing');
    const parties = roles.map((role) => session.addParty(role, role));
    const targets: PlainPublishTarget[][] = [];
    for (const [i, party] of parties.entries()) targets.push(await party.publishPlain(tracksFor(r, i), '127.0.0.1'));
    for (const party of parties) {
      for (const other of parties) {
        if (other === party) continue;
        for (const { producer } of other.producerEntries()) {
          const info = await party.consumePlain(producer.id, '127.0.0.1', sinkPort, sinkPort + 1);
          await party.resumeConsumer(info.consumerId);
        }
      }
      producers.push(...party.producerEntries().map((e) => e.producer));
      consumers.push(...party.consumerList());
    }
    senders.push(startSender(clip, r, targets));
  }
  };
  try {
    await setupRooms();
  } catch (err) {
    for (const sender of senders) sender.kill('SIGKILL');
    await server.close();
    throw err;
  }
  progress(`product: ${opts.rooms} sessions, ${producers.length} producers, ${consumers.length} consumers; warming up`);
  let window: Window;
  try {
    await waitForRtp(producers);
    await new Promise((r) => setTimeout(r, 3000));
    window = await measure(server.pool.pids(), producers, consumers, opts.seconds);
  } catch (err) {
    for (const sender of senders) sender.kill('SIGKILL');
    await server.close();
    throw err;
  }
  const rssMiB = rssMiBOfPid(process.pid) + server.pool.pids().reduce((n, pid) => n + rssMiBOfPid(pid), 0);
  return { window, rssMiB, server, senders };
}

// --- bare mediasoup baseline ---------------------------------------------------
async function baselineRun(clip: string, sinkPort: number): Promise<Window> {
  const worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: 10000, rtcMaxPort: 44999, disableLiburing: true });
  const producers: types.Producer[] = [];
  const consumers: types.Consumer[] = [];
  const senders: ChildProcess[] = [];
  try {
    for (let r = 0; r < opts.rooms; r++) {
      const router = await worker.createRouter({ mediaCodecs });
      const roomProducers: types.Producer[][] = [];
      const targets: PlainPublishTarget[][] = [];
      for (let party = 0; party < 3; party++) {
        const list: types.Producer[] = [];
        const t: PlainPublishTarget[] = [];
        for (const track of tracksFor(r, party)) {
          const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: false, comedia: false });
          await transport.connect({ ip: '127.0.0.1', port: track.sourcePort, rtcpPort: track.sourceRtcpPort });
          const producer = await transport.produce({
            kind: track.kind,
            rtpParameters: {
              codecs: [{ mimeType: track.mimeType, payloadType: track.payloadType, clockRate: track.clockRate, ...(track.channels ? { channels: track.channels } : {}) }],
              encodings: [{ ssrc: track.ssrc }],
            },
          });
          list.push(producer);
          t.push({ kind: track.kind, producerId: producer.id, ip: '127.0.0.1', port: transport.tuple.localPort, rtcpPort: transport.rtcpTuple?.localPort ?? 0 });
        }
        roomProducers.push(list);
        targets.push(t);
        producers.push(...list);
      }
      for (let party = 0; party < 3; party++) {
        for (let other = 0; other < 3; other++) {
          if (other === party) continue;
          for (const producer of roomProducers[other] ?? []) {
            const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: false, comedia: false });
            await transport.connect({ ip: '127.0.0.1', port: sinkPort, rtcpPort: sinkPort + 1 });
            consumers.push(await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities }));
          }
        }
      }
      senders.push(startSender(clip, r, targets));
    }
    progress(`baseline: bare mediasoup, ${producers.length} producers, ${consumers.length} consumers; warming up`);
    await waitForRtp(producers);
    await new Promise((r) => setTimeout(r, 3000));
    return await measure([worker.pid], producers, consumers, opts.seconds);
  } finally {
    for (const s of senders) s.kill('SIGKILL');
    worker.close();
  }
}

// --- browser joins ---------------------------------------------------------------
/** The server's WebRTC transports by party, seen through mediasoup's observer (no product code involved). */
const webRtcTransportsByParty = new Map<string, types.WebRtcTransport[]>();
mediasoup.observer.on('newworker', (worker) =>
  worker.observer.on('newrouter', (router) =>
    router.observer.on('newtransport', (transport) => {
      const partyId = transport.appData['partyId'];
      if (transport.type !== 'webrtc' || typeof partyId !== 'string') return;
      const list = webRtcTransportsByParty.get(partyId) ?? [];
      list.push(transport as types.WebRtcTransport);
      webRtcTransportsByParty.set(partyId, list);
      transport.observer.once('close', () => webRtcTransportsByParty.set(partyId, (webRtcTransportsByParty.get(partyId) ?? []).filter((t) => t !== transport)));
    })
  )
);

interface PageJoinResult {
  ms: number | null;
  error: string | null;
  partyId: string | null;
  consumers: number;
  packetsReceived: number;
  framesDecoded: number;
}

/** Names why a join saw no remote frame, from both ends of its media path. */
function joinFailureCause(server: RunningServer, r: PageJoinResult): string {
  if (r.error) return r.error;
  if (!r.partyId) return 'the page never joined the session';
  if (r.consumers === 0) return 'the page joined but consumed nothing (no producers in the session?)';
  const transports = webRtcTransportsByParty.get(r.partyId) ?? [];
  const ends = transports.map((t) => `${t.appData['direction']}: ice ${t.iceState}, dtls ${t.dtlsState}, candidates ${t.iceCandidates.map((c) => `${c.protocol} ${c.address}:${c.port}`).join(', ')}`).join('; ');
  if (r.packetsReceived === 0) {
    const m = server.config.media;
    return `no RTP reached the browser (${ends}); the server listens on ${m.listenIp} and announces ${m.announcedAddress || m.listenIp}: is that address reachable from the browser?`;
  }
  return `RTP arrived (${r.packetsReceived} packets) but no video frame was decoded (${r.framesDecoded} frames; ${ends})`;
}

async function browserJoins(server: RunningServer): Promise<{ times: number[]; failures: string[] }> {
  if (opts.joins === 0) return { times: [], failures: [] };
  const browser = await launchBrowser();
  const times: number[] = [];
  const failures: string[] = [];
  try {
    const roomId = server.config.site.rooms[0]?.id ?? '';
    for (let i = 0; i < opts.joins; i++) {
      const token = server.tokens.issue({ roomId, role: 'guest', bookingId: null, nbf: Date.now() - 1000, exp: Date.now() + 600_000 });
      const page = await openSessionPage(browser, `${server.url}/session?token=${token}&autojoin=0`);
      try {
        const r = await page.evaluate(async (): Promise<PageJoinResult> => {
          const s = window.__pleaSession;
          if (!s) return { ms: null, error: 'the session page has no test hooks', partyId: null, consumers: 0, packetsReceived: 0, framesDecoded: 0 };
          let error: string | null = null;
          await s.join().catch((e: unknown) => (error = `join failed: ${String(e)}`));
          const deadline = performance.now() + 10_000;
          while (!error && s.firstRemoteFrameAtMs === null && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          const stats = await s.remoteStats();
          const video = stats.filter((x) => x.kind === 'video');
          const ms = s.firstRemoteFrameAtMs !== null && s.joinedAtMs !== null ? s.firstRemoteFrameAtMs - s.joinedAtMs : null;
          return {
            ms,
            error,
            partyId: s.state().partyId,
            consumers: stats.length,
            packetsReceived: stats.reduce((n, x) => n + x.packetsReceived, 0),
            framesDecoded: video.reduce((n, x) => n + x.framesDecoded, 0),
          };
        });
        if (r.ms !== null) {
          times.push(r.ms);
          progress(`browser join ${i + 1}/${opts.joins}: first remote frame after ${Math.round(r.ms)} ms`);
        } else {
          const cause = joinFailureCause(server, r);
          failures.push(cause);
          progress(`browser join ${i + 1}/${opts.joins} FAILED: ${cause}`);
        }
      } finally {
        await page.context().close();
      }
    }
  } finally {
    await browser.close();
  }
  return { times, failures };
}

async function main(): Promise<void> {
  const clip = await ensureSyntheticClip(ffmpegPath, path.join(workDir, 'clips'), { roomId: 'bench', roomName: '压测' });
  const sink = await startSink();
  let result: Record<string, unknown> = {};
  try {
    const product = await productRun(clip, sink.port);
    let joins: { times: number[]; failures: string[] } = { times: [], failures: [] };
    try {
      joins = await browserJoins(product.server);
    } finally {
      for (const s of product.senders) s.kill('SIGKILL');
      await product.server.close();
    }
    const joinTimes = joins.times;
    if (joins.failures.length > 0) {
      throw new Error(`${joins.failures.length} of ${opts.joins} browser joins saw no remote frame; first cause: ${joins.failures[0]}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = await baselineRun(clip, sink.port);
    const w = product.window;
    result = {
      rooms: opts.rooms,
      seconds: opts.seconds,
      serverCpuPercent: round(w.serverCpuPercent),
      workerCpuPercent: round(w.workerCpuPercent),
      baselineWorkerCpuPercent: round(baseline.workerCpuPercent),
      workerToBaselineRatio: round(w.workerCpuPercent / baseline.workerCpuPercent, 2),
      workerCpuPercentPerRoom: round(w.workerCpuPercent / opts.rooms, 2),
      roomsPerCoreEstimate: Math.floor(100 / (w.workerCpuPercent / opts.rooms)),
      rssMiB: round(product.rssMiB),
      packetsForwarded: w.packetsForwarded,
      packetsReceived: w.packetsReceived,
      packetLossPercent: round((100 * w.packetsLost) / Math.max(1, w.packetsLost + w.packetsReceived), 3),
      baselinePacketsForwarded: baseline.packetsForwarded,
      joinToFirstFrameMs: { median: round(median(joinTimes)), p95: round(percentile(joinTimes, 95)), samples: joinTimes.length, failed: joins.failures.length },
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', node: process.version, ffmpeg: spawnSync(ffmpegPath, ['-version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '' },
    };
  } finally {
    sink.proc.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
  }
  console.log(opts.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  }
);
