// npm run bench:media -- --rooms N --seconds S [--joins K] [--parties-per-page P] [--json]
//
// Measures the deployed topology: N three-way sessions through the product
// (server, signalling, WorkerPool, SessionRegistry, Session, Party), each with
//   - the room: the real RoomAgent (synthetic camera and microphone, looped
//     clip copied by ffmpeg) publishing over plain RTP transports (SRTP both ways, the default; the baseline the same) through the product's
//     agent signalling, and consuming the other two parties over plain RTP
//     (the room PC's player; here a bound-but-unread UDP sink, so the kernel
//     drops the packets at no user cost);
//   - the prosecutor and the lawyer: two WebRTC parties (mediasoup-client in
//     headless Chromium, fake camera and microphone; several parties share
//     one page) through the product's Socket.io signalling, each sending its
//     camera and microphone and consuming the other two parties.
// Then the same transports and load on bare mediasoup (Worker, Router,
// WebRTC and plain transports, producers, consumers; the same page answers
// the same messages through a binding instead of the product) as the
// baseline. Between the two, with the room agents still publishing (the load
// browsers stopped: they stand for other people's computers), a fresh session
// page joins room 1 K times as a guest (page loaded, camera open) and the time
// from the join request to its first decoded remote frame is measured.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Browser, Page } from 'playwright-core';
import Type from 'typebox';
import { checker } from '../server/validation.js';
import { loadConfig } from '../server/config.js';
import { startServer, type RunningServer } from '../server/app.js';
import { pino } from 'pino';
import { mediaCodecs } from '../server/media/worker-pool.js';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import { syntheticRoomAgent } from '../server/demo-agents.js';
import { ensureSyntheticClip, KEY_FRAME_INTERVAL_FRAMES, CLIP_FPS } from '../room-agent/synthetic-clip.js';
import { randomBytes } from 'node:crypto';
import type { ClientEventName, ClientPayload, PlainPublishTarget, PlainTrack, TransportInfo } from '../server/signalling/protocol.js';
import type { RoomAgent } from '../room-agent/agent.js';
import { launchBrowser, openSessionPage } from '../test/helpers/browser.js';
import type { PartySignal, PartyStart, PartyStats } from './bench-media/webrtc-parties.js';

const Options = Type.Object({
  rooms: Type.Integer({ minimum: 1, maximum: 40 }),
  seconds: Type.Integer({ minimum: 3, maximum: 600 }),
  joins: Type.Integer({ minimum: 0, maximum: 100 }),
  partiesPerPage: Type.Integer({ minimum: 1, maximum: 80 }),
  json: Type.Boolean(),
});

function parseArgs(argv: string[]): { rooms: number; seconds: number; joins: number; partiesPerPage: number; json: boolean } {
  const raw: Record<string, unknown> = { rooms: 10, seconds: 20, joins: 24, partiesPerPage: 4, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--json') raw['json'] = true;
    else if (a.startsWith('--')) raw[a.slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())] = Number(argv[++i]);
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
const agentsDir = path.join(workDir, 'agents');
const here = path.dirname(fileURLToPath(import.meta.url));

class BenchFailure extends Error {}

/** The longest stall of this process's event loop (the server's, here): a stall of seconds drops Socket.io connections. */
let maxEventLoopLagMs = 0;
{
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    maxEventLoopLagMs = Math.max(maxEventLoopLagMs, now - last - 100);
    if (now - last - 100 > 2000) progress(`event loop stalled for ${Math.round(now - last - 100)} ms`);
    last = now;
  }, 100).unref();
}

// --- load generators ---------------------------------------------------------
/** The baseline's room tracks, each from its own fixed source ports (as the room agent does). */
function roomTracks(room: number): PlainTrack[] {
  const base = 20_000_000 + room * 100;
  const port = 50_000 + room * 4;
  return [
    { kind: 'video', source: 'camera', mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, ssrc: base, sourcePort: port, sourceRtcpPort: port + 1 },
    { kind: 'audio', source: 'microphone', mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, ssrc: base + 1, sourcePort: port + 2, sourceRtcpPort: port + 3 },
  ];
}

/** The baseline's room sender: ffmpeg copying the room's looped clip, as the room agent's publisher does. */
/** Where the baseline's sender publishes a track, with the SRTP key it encrypts with. */
type BaselineTarget = PlainPublishTarget & { srtpKey?: string };
const SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80' as const;

function startSender(clip: string, room: number, targets: BaselineTarget[]): ChildProcess {
  const args = ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip];
  for (const t of targets) {
    const track = roomTracks(room).find((x) => x.kind === t.kind);
    if (!track) continue;
    const local = `&localrtpport=${track.sourcePort}&localrtcpport=${track.sourceRtcpPort}`;
    // SRTP, as the room agent publishes by default.
    const srtp = t.srtpKey ? ['-srtp_out_suite', SRTP_SUITE, '-srtp_out_params', t.srtpKey] : [];
    args.push('-map', t.kind === 'video' ? '0:v:0' : '0:a:0', '-c', 'copy', '-payload_type', String(track.payloadType), '-ssrc', String(track.ssrc), ...srtp, '-f', 'rtp', `${t.srtpKey ? 'srtp' : 'rtp'}://${t.ip}:${t.port}?rtcpport=${t.rtcpPort}&pkt_size=1200${local}`);
  }
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

const median = (xs: number[]) => percentile(xs, 50);
function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}


/** CPU seconds of the browser's processes (Chromium's children of this process). */
function browserCpuSeconds(): number {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      names.set(Number(entry), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const descends = (pid: number): boolean => {
    for (let p = parents.get(pid), n = 0; p !== undefined && p > 1 && n < 20; p = parents.get(p), n++) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  for (const [pid, name] of names) {
    if (!/chrom/i.test(name) || !descends(pid)) continue;
    try {
      total += cpuSecondsOfPid(pid);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

interface Window {
  workerCpuPercent: number;
  serverCpuPercent: number;
  clientCpuPercent: number;
  packetsForwarded: number;
  packetsReceived: number;
  packetsLost: number;
  seconds: number;
  /** WebRTC parties that did not send, receive or decode during the window. */
  stalledParties: string[];
}

interface Load {
  workerPids: number[];
  producers: types.Producer[];
  consumers: types.Consumer[];
  pages: PartyPages;
}

interface PacketCounts {
  /** Per consumer id: packets sent (outbound-rtp only: a consumer's getStats() also carries its producer's inbound-rtp). */
  forwarded: Map<string, number>;
  /** Per producer id: packets received and lost (inbound-rtp). */
  received: Map<string, { packets: number; lost: number }>;
}

async function countPackets(load: Load): Promise<PacketCounts> {
  const forwarded = new Map<string, number>();
  const received = new Map<string, { packets: number; lost: number }>();
  await Promise.all([
    ...load.consumers.filter((c) => !c.closed).map(async (c) => {
      const stats = await c.getStats().catch(() => null);
      if (stats) forwarded.set(c.id, stats.reduce((n, s) => n + (s.type === 'outbound-rtp' ? s.packetCount : 0), 0));
    }),
    ...load.producers.filter((p) => !p.closed).map(async (p) => {
      const stats = await p.getStats().catch(() => null);
      if (stats) received.set(p.id, { packets: stats.reduce((n, s) => n + (s.type === 'inbound-rtp' ? s.packetCount : 0), 0), lost: stats.reduce((n, s) => n + (s.type === 'inbound-rtp' ? s.packetsLost : 0), 0) });
    }),
  ]);
  return { forwarded, received };
}

/** Packets over the window, counted on the producers and consumers present at both ends; how many went away meanwhile. */
function packetDelta(c0: PacketCounts, c1: PacketCounts): { forwarded: number; received: number; lost: number; gone: number } {
  let forwarded = 0;
  let received = 0;
  let lost = 0;
  let gone = 0;
  for (const [id, n0] of c0.forwarded) {
    const n1 = c1.forwarded.get(id);
    if (n1 === undefined) gone++;
    else forwarded += n1 - n0;
  }
  for (const [id, r0] of c0.received) {
    const r1 = c1.received.get(id);
    if (r1 === undefined) gone++;
    else {
      received += r1.packets - r0.packets;
      lost += r1.lost - r0.lost;
    }
  }
  return { forwarded, received, lost, gone };
}

async function measure(what: string, load: Load, seconds: number): Promise<Window> {
  const w0 = load.workerPids.reduce((n, pid) => n + cpuSecondsOfPid(pid), 0);
  const b0 = browserCpuSeconds();
  const s0 = process.cpuUsage();
  const c0 = await countPackets(load);
  const p0 = await load.pages.stats();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const w1 = load.workerPids.reduce((n, pid) => n + cpuSecondsOfPid(pid), 0);
  const s1 = process.cpuUsage(s0);
  const b1 = browserCpuSeconds();
  const c1 = await countPackets(load);
  const p1 = await load.pages.stats();
  const packets = packetDelta(c0, c1);
  // Every WebRTC party should have sent and received, and decoded video, during
  // the window: those that did not are named; the bench fails if that is most.
  const stalled: string[] = [];
  for (const after of p1) {
    const before = p0.find((x) => x.index === after.index);
    const sent = after.packetsSent - (before?.packetsSent ?? 0);
    const received = after.packetsReceived - (before?.packetsReceived ?? 0);
    const frames = after.framesDecoded - (before?.framesDecoded ?? 0);
    if (after.consumers !== 4 || sent <= 0 || received <= 0 || frames <= 0) {
      stalled.push(`${what}: WebRTC party ${after.index}: ${after.consumers} consumers, ${sent} packets sent, ${received} received, ${frames} frames decoded in the window`);
    }
  }
  if (packets.gone > 0 || c0.forwarded.size !== load.consumers.length || c0.received.size !== load.producers.length) {
    stalled.push(`${what}: ${load.producers.length - c0.received.size + load.consumers.length - c0.forwarded.size} producers or consumers were gone before the window and ${packets.gone} went during it (a party rejoined?): the window's counts leave them out`);
  }
  for (const line of stalled) progress(`WARNING ${line}`);
  if (stalled.length > p1.length / 2) throw new BenchFailure(`${what}: ${stalled.length} of ${p1.length} WebRTC parties did not carry their load; first: ${stalled[0]}`);
  return {
    workerCpuPercent: (100 * (w1 - w0)) / elapsed,
    serverCpuPercent: (100 * (s1.user + s1.system)) / 1e6 / elapsed,
    clientCpuPercent: (100 * (b1 - b0)) / elapsed,
    packetsForwarded: packets.forwarded,
    packetsReceived: packets.received,
    packetsLost: packets.lost,
    seconds: elapsed,
    stalledParties: stalled,
  };
}

async function waitForRtp(producers: types.Producer[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const stats = await Promise.all(producers.map((p) => p.getStats()));
    if (stats.every((s) => s.some((x) => x.type === 'inbound-rtp' && x.packetCount > 0))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new BenchFailure('producers did not receive RTP within 30 s');
}

async function waitFor<T>(what: string, probe: () => T | null | undefined | false, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new BenchFailure(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// --- the page that hosts the WebRTC parties ------------------------------------
/** A blank same-machine page (a secure context: loopback) that the party script is added to. */
function startBlankPageServer(): Promise<{ http: HttpServer; url: string }> {
  const http = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>bench parties</title>'));
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => {
      const addr = http.address();
      resolve({ http, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/` });
    });
  });
}

async function partyScript(): Promise<string> {
  const out = await build({ entryPoints: [path.join(here, 'bench-media', 'webrtc-parties.ts')], bundle: true, write: false, format: 'iife', platform: 'browser', target: 'es2022', logLevel: 'error' });
  const text = out.outputFiles[0]?.text;
  if (!text) throw new BenchFailure('bundling the WebRTC party script gave nothing');
  return text;
}

type SignalBinding = (index: number, event: string, payload: unknown) => Promise<unknown>;

/**
 * The pages that host the WebRTC parties, a few parties per page: one page
 * for all would put every party's signalling and SDP work on one renderer's
 * main thread; one page per party would cost a renderer each.
 */
class PartyPages {
  private readonly pages = new Map<number, Promise<Page>>();
  constructor(private readonly browser: Browser, private readonly blankUrl: string, private readonly script: string, private readonly signal?: SignalBinding) {}

  private pageFor(index: number): Promise<Page> {
    const n = Math.floor(index / opts.partiesPerPage);
    let page = this.pages.get(n);
    if (!page) {
      page = this.openPage();
      this.pages.set(n, page);
    }
    return page;
  }

  private async openPage(): Promise<Page> {
    const context = await this.browser.newContext({ permissions: ['camera', 'microphone'] });
    const page = await context.newPage();
    page.on('pageerror', (err) => progress(`[party page error] ${err.message}`));
    if (this.signal) await page.exposeFunction('benchSignal', this.signal);
    await page.goto(this.blankUrl);
    await page.addScriptTag({ content: this.script });
    return page;
  }

  async start(index: number, signal: PartySignal): Promise<PartyStart> {
    return (await this.pageFor(index)).evaluate(([i, s]) => window.benchParties!.start(i, s), [index, signal] as const);
  }

  async consume(index: number, producerIds: string[]): Promise<void> {
    return (await this.pageFor(index)).evaluate(([i, ids]) => window.benchParties!.consume(i, ids), [index, producerIds] as const);
  }

  async stats(): Promise<PartyStats[]> {
    const pages = await Promise.all(this.pages.values());
    return (await Promise.all(pages.map((p) => p.evaluate(() => window.benchParties!.stats())))).flat();
  }

  async close(): Promise<void> {
    const pages = await Promise.allSettled(this.pages.values());
    this.pages.clear();
    for (const settled of pages) {
      if (settled.status !== 'fulfilled') continue;
      await settled.value.evaluate(() => window.benchParties?.closeAll()).catch(() => undefined);
      await settled.value.context().close().catch(() => undefined);
    }
  }
}

// --- product run ---------------------------------------------------------------
interface ProductRun {
  window: Window;
  rssMiB: number;
  server: RunningServer;
  agents: RoomAgent[];
  pages: PartyPages;
}

async function productRun(browser: Browser, blankUrl: string, script: string, sinkPort: number): Promise<ProductRun> {
  const base = loadConfig({ env: {} });
  const rooms = Array.from({ length: opts.rooms }, (_, i) => ({ id: `bench-${i + 1}`, kind: 'plea' as const, name: `压测房间${i + 1}`, nameEn: `Bench room ${i + 1}` }));
  const config = loadConfig({
    env: {},
    overrides: {
      site: { ...base.site, rooms },
      // The party pages are served from the blank page server: another origin,
      // which the signalling refuses unless it is named (cross-site WebSocket check).
      http: { host: '127.0.0.1', port: 0, publicUrl: '', allowedOrigins: [new URL(blankUrl).origin] },
      // announcedAddress '' as well: the base config, listening on every address,
      // announces the host's LAN address, which a server listening on loopback
      // never answers (every browser join then fails: no remote frame).
      media: { ...base.media, workers: 1, listenIp: '127.0.0.1', announcedAddress: '', plainListenIp: '127.0.0.1', rtcMinPort: 10000, rtcMaxPort: 29999 },
      dataDir: path.join(workDir, 'data'),
      logLevel: 'warn',
      demo: { syntheticAgents: false, standingSessions: true },
    },
  });
  // Logs to stderr: stdout carries the one JSON object.
  const server = await startServer(config, pino({ level: 'warn', base: { pid: process.pid } }, pino.destination(2)));
  const agents: RoomAgent[] = [];
  const pages = new PartyPages(browser, blankUrl, script);
  try {
    for (const room of rooms) {
      const agent = syntheticRoomAgent(server, room.id, { workDir: agentsDir });
      agents.push(agent);
      agent.start();
    }
    const sessions = rooms.map((room) => server.registry.forRoom(room.id));
    if (sessions.some((s) => !s)) throw new BenchFailure('a standing session is missing');
    const roomParty = (i: number) => sessions[i]?.partyList().find((p) => p.role === 'room');
    await waitFor('every room agent publishing', () => sessions.every((_, i) => (roomParty(i)?.producerEntries().length ?? 0) === 2), 60_000);
    progress(`product: ${opts.rooms} room agents publishing; joining ${2 * opts.rooms} WebRTC parties`);
    // The sessions are set up side by side (a busy machine makes a long serial set-up fragile).
    await Promise.all(
      rooms.map(async (room, r) => {
        const session = sessions[r]!;
        const webrtc: Array<{ index: number; partyId: string }> = [];
        for (const [i, role] of (['prosecutor', 'lawyer'] as const).entries()) {
          const token = server.tokens.issue({ roomId: room.id, role, bookingId: null, nbf: Date.now() - 1000, exp: Date.now() + 3_600_000 });
          const started = await pages.start(2 * r + i, { kind: 'socket', url: server.url, token });
          webrtc.push({ index: 2 * r + i, partyId: started.partyId });
        }
        for (const party of webrtc) {
          await pages.consume(party.index, session.producerViews().filter((v) => v.partyId !== party.partyId).map((v) => v.producerId));
        }
        // The room plays the other two parties (the agent's agent:consume, to the sink here).
        const roomP = roomParty(r)!;
        for (const v of session.producerViews().filter((x) => x.partyId !== roomP.id)) {
          const info = await roomP.consumePlain(v.producerId, '127.0.0.1', sinkPort, sinkPort + 1);
          await roomP.resumeConsumer(info.consumerId);
        }
      })
    );
    const parties = sessions.flatMap((s) => s!.partyList());
    const load: Load = {
      workerPids: server.pool.pids(),
      producers: parties.flatMap((p) => p.producerEntries().map((e) => e.producer)),
      consumers: parties.flatMap((p) => p.consumerList()),
      pages,
    };
    progress(`product: ${opts.rooms} sessions, ${load.producers.length} producers, ${load.consumers.length} consumers; warming up`);
    await waitForRtp(load.producers);
    await new Promise((r) => setTimeout(r, 3000));
    const window = await measure('product', load, opts.seconds);
    const rssMiB = rssMiBOfPid(process.pid) + server.pool.pids().reduce((n, pid) => n + rssMiBOfPid(pid), 0);
    return { window, rssMiB, server, agents, pages };
  } catch (err) {
    await closeProduct({ server, agents, pages });
    throw err;
  }
}

async function closeProduct(run: { server: RunningServer; agents: RoomAgent[]; pages: PartyPages }): Promise<void> {
  await run.pages.close();
  await Promise.all(run.agents.map((a) => a.stop().catch(() => undefined)));
  await run.server.close();
}

// --- bare mediasoup baseline ---------------------------------------------------
/** The same WebRTC transport options as Party.createWebRtcTransport. */
const webRtcTransportOptions = (): types.WebRtcTransportOptions => ({
  listenInfos: [
    { protocol: 'udp', ip: '127.0.0.1' },
    { protocol: 'tcp', ip: '127.0.0.1' },
  ],
  enableUdp: true,
  enableTcp: true,
  preferUdp: true,
  initialAvailableOutgoingBitrate: 1_000_000,
});

/** Answers the product's signalling messages for one WebRTC party with bare mediasoup calls. */
class BaselineParty {
  readonly transports = new Map<string, types.WebRtcTransport>();
  readonly producers: types.Producer[] = [];
  readonly consumers = new Map<string, types.Consumer>();
  constructor(readonly id: string, private readonly router: types.Router) {}

  async handle(event: ClientEventName, payload: unknown): Promise<unknown> {
    const transport = (id: string) => {
      const t = this.transports.get(id);
      if (!t) throw new Error(`no transport ${id}`);
      return t;
    };
    switch (event) {
      case 'session:join':
        return { partyId: this.id, session: null, routerRtpCapabilities: this.router.rtpCapabilities };
      case 'transport:create': {
        const t = await this.router.createWebRtcTransport(webRtcTransportOptions());
        this.transports.set(t.id, t);
        const info: TransportInfo = {
          transportId: t.id,
          iceParameters: t.iceParameters,
          iceCandidates: t.iceCandidates.map((c) => ({ foundation: c.foundation, priority: c.priority, address: c.address, protocol: c.protocol, port: c.port, type: c.type, ...(c.tcpType ? { tcpType: c.tcpType } : {}) })),
          dtlsParameters: { role: t.dtlsParameters.role, fingerprints: t.dtlsParameters.fingerprints },
        };
        return info;
      }
      case 'transport:connect': {
        const p = payload as ClientPayload<'transport:connect'>;
        await transport(p.transportId).connect({ dtlsParameters: p.dtlsParameters as types.DtlsParameters });
        return {};
      }
      case 'producer:create': {
        const p = payload as ClientPayload<'producer:create'>;
        const producer = await transport(p.transportId).produce({ kind: p.kind, rtpParameters: p.rtpParameters as unknown as types.RtpParameters });
        this.producers.push(producer);
        return { producerId: producer.id };
      }
      case 'consumer:create': {
        const p = payload as ClientPayload<'consumer:create'>;
        const consumer = await transport(p.transportId).consume({ producerId: p.producerId, rtpCapabilities: p.rtpCapabilities as unknown as types.RtpCapabilities, paused: true });
        this.consumers.set(consumer.id, consumer);
        return { consumerId: consumer.id, producerId: p.producerId, partyId: '', kind: consumer.kind, rtpParameters: consumer.rtpParameters };
      }
      case 'consumer:resume': {
        const consumer = this.consumers.get((payload as ClientPayload<'consumer:resume'>).consumerId);
        if (!consumer) throw new Error('no consumer');
        await consumer.resume();
        if (consumer.kind === 'video') await consumer.requestKeyFrame();
        return {};
      }
      default:
        throw new Error(`the baseline does not answer ${event}`);
    }
  }
}

async function baselineRun(browser: Browser, blankUrl: string, script: string, sinkPort: number): Promise<Window> {
  const worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: 10000, rtcMaxPort: 29999, disableLiburing: true });
  const producers: types.Producer[] = [];
  const consumers: types.Consumer[] = [];
  const senders: ChildProcess[] = [];
  const webrtc: BaselineParty[] = [];
  const pages = new PartyPages(browser, blankUrl, script, async (index, event, payload) => {
    const party = webrtc[index];
    if (!party) throw new Error(`no baseline party ${index}`);
    return party.handle(event as ClientEventName, payload);
  });
  try {
    await Promise.all(Array.from({ length: opts.rooms }, async (_, r) => {
      const router = await worker.createRouter({ mediaCodecs });
      // The room: one plain transport per track, fixed source ports, as Party.publishPlain.
      const roomProducers: types.Producer[] = [];
      const targets: BaselineTarget[] = [];
      for (const track of roomTracks(r)) {
        // SRTP both ways, as Party.publishPlain and consumePlain do by default.
        const srtpKey = randomBytes(30).toString('base64');
        const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: false, comedia: false, enableSrtp: true, srtpCryptoSuite: SRTP_SUITE });
        await transport.connect({ ip: '127.0.0.1', port: track.sourcePort, rtcpPort: track.sourceRtcpPort, srtpParameters: { cryptoSuite: SRTP_SUITE, keyBase64: srtpKey } });
        const producer = await transport.produce({
          kind: track.kind,
          rtpParameters: {
            codecs: [{ mimeType: track.mimeType, payloadType: track.payloadType, clockRate: track.clockRate, ...(track.channels ? { channels: track.channels } : {}), rtcpFeedback: track.kind === 'video' ? [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] : [] }],
            encodings: [{ ssrc: track.ssrc }],
          },
        });
        roomProducers.push(producer);
        targets.push({ kind: track.kind, producerId: producer.id, ip: '127.0.0.1', port: transport.tuple.localPort, rtcpPort: transport.rtcpTuple?.localPort ?? 0, srtpKey });
      }
      producers.push(...roomProducers);
      const clip = await ensureSyntheticClip(ffmpegPath, path.join(agentsDir, 'clips'), { roomId: `bench-${r + 1}`, roomName: `压测房间${r + 1}` });
      senders.push(startSender(clip, r, targets));
      // The prosecutor and the lawyer: WebRTC parties in the page.
      const pair = [new BaselineParty(`baseline-${r}-prosecutor`, router), new BaselineParty(`baseline-${r}-lawyer`, router)];
      const started: PartyStart[] = [];
      for (const [i, party] of pair.entries()) {
        webrtc[2 * r + i] = party;
        started.push(await pages.start(2 * r + i, { kind: 'binding' }));
      }
      for (const [i, party] of pair.entries()) {
        const other = started[1 - i]!;
        await pages.consume(2 * r + i, [...roomProducers.map((p) => p.id), ...other.producerIds]);
        producers.push(...party.producers);
      }
      // The room consumes both WebRTC parties over plain RTP, one transport per consumer, as Party.consumePlain.
      for (const producer of pair.flatMap((p) => p.producers)) {
        const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: false, comedia: false, enableSrtp: true, srtpCryptoSuite: SRTP_SUITE });
        await transport.connect({ ip: '127.0.0.1', port: sinkPort, rtcpPort: sinkPort + 1, srtpParameters: { cryptoSuite: SRTP_SUITE, keyBase64: randomBytes(30).toString('base64') } });
        const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
        await consumer.resume();
        if (consumer.kind === 'video') await consumer.requestKeyFrame();
        consumers.push(consumer);
      }
      for (const party of pair) consumers.push(...party.consumers.values());
    }));
    progress(`baseline: bare mediasoup, ${producers.length} producers, ${consumers.length} consumers; warming up`);
    await waitForRtp(producers);
    await new Promise((r) => setTimeout(r, 3000));
    return await measure('baseline', { workerPids: [worker.pid], producers, consumers, pages }, opts.seconds);
  } finally {
    await pages.close();
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
  /** The session page's performance marks (plea:*) after the join request, in ms from it. */
  marks: Record<string, number>;
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

async function browserJoins(server: RunningServer, browser: Browser): Promise<{ times: number[]; failures: string[] }> {
  if (opts.joins === 0) return { times: [], failures: [] };
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
          if (!s) return { ms: null, marks: {}, error: 'the session page has no test hooks', partyId: null, consumers: 0, packetsReceived: 0, framesDecoded: 0 };
          let error: string | null = null;
          await s.join().catch((e: unknown) => (error = `join failed: ${String(e)}`));
          const deadline = performance.now() + 10_000;
          while (!error && s.firstRemoteFrameAtMs === null && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          const stats = await s.remoteStats();
          const video = stats.filter((x) => x.kind === 'video');
          const ms = s.firstRemoteFrameAtMs !== null && s.joinedAtMs !== null ? s.firstRemoteFrameAtMs - s.joinedAtMs : null;
          const all = performance.getEntriesByType('mark').filter((m) => m.name.startsWith('plea:'));
          const start = [...all].reverse().find((m) => m.name === 'plea:join-request')?.startTime ?? 0;
          const marks: Record<string, number> = {};
          for (const m of all) if (m.startTime >= start && !(m.name.slice(5) in marks)) marks[m.name.slice(5)] = Math.round(m.startTime - start);
          return {
            ms,
            marks,
            error,
            partyId: s.state().partyId,
            consumers: stats.length,
            packetsReceived: stats.reduce((n, x) => n + x.packetsReceived, 0),
            framesDecoded: video.reduce((n, x) => n + x.framesDecoded, 0),
          };
        });
        if (r.ms !== null) {
          times.push(r.ms);
          progress(`browser join ${i + 1}/${opts.joins}: first remote frame after ${Math.round(r.ms)} ms (${Object.entries(r.marks).map(([k, v]) => `${k} ${v}`).join(', ')})`);
        } else {
          const cause = joinFailureCause(server, r);
          failures.push(cause);
          progress(`browser join ${i + 1}/${opts.joins} FAILED: ${cause}`);
        }
      } finally {
        await page.context().close();
      }
    }
  } catch (err) {
    failures.push(`the join loop stopped: ${String(err)}`);
  }
  return { times, failures };
}

async function main(): Promise<number> {
  const sink = await startSink();
  const blank = await startBlankPageServer();
  const browser = await launchBrowser();
  let result: Record<string, unknown> = {};
  let failed = 0;
  try {
    const script = await partyScript();
    const product = await productRun(browser, blank.url, script, sink.port);
    let joins: { times: number[]; failures: string[] } = { times: [], failures: [] };
    try {
      // The load's browsers stand for other people's computers: stopped before
      // the joins, so the joining page does not share two cores with 2 × N
      // encoders. The room agents go on publishing (N sessions, plain RTP).
      await product.pages.close();
      joins = await browserJoins(product.server, browser);
    } finally {
      await closeProduct(product);
    }
    failed = joins.failures.length;
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = await baselineRun(browser, blank.url, script, sink.port);
    const w = product.window;
    const joinTimes = joins.times;
    const perSession = w.workerCpuPercent / opts.rooms;
    // The browsers' send rates drift (bandwidth estimation, CPU adaptation on a
    // busy machine), so the two runs carry somewhat different packet counts:
    // compare the worker's cost per packet handled (received + forwarded).
    const perKilopacket = (x: Window) => (x.workerCpuPercent * x.seconds) / ((x.packetsReceived + x.packetsForwarded) / 1000);
    const ratio = perKilopacket(w) / perKilopacket(baseline);
    const joinMedian = median(joinTimes);
    result = {
      date: new Date().toISOString(),
      rooms: opts.rooms,
      seconds: opts.seconds,
      topology: 'per session: room agent (plain RTP transports with SRTP both ways, the default: 2 producers, 4 consumers; the baseline the same) + prosecutor and lawyer (WebRTC: 2 producers, 4 consumers each)',
      workerCpuPercent: round(w.workerCpuPercent),
      baselineWorkerCpuPercent: round(baseline.workerCpuPercent),
      workerToBaselineRatio: round(ratio, 2),
      workerToBaselineRatioOf: 'worker CPU per packet handled (received + forwarded), product over baseline',
      workerCpuMsPerThousandPackets: round(10 * perKilopacket(w), 2),
      baselineWorkerCpuMsPerThousandPackets: round(10 * perKilopacket(baseline), 2),
      serverCpuPercent: round(w.serverCpuPercent),
      baselineServerCpuPercent: round(baseline.serverCpuPercent),
      clientCpuPercent: round(w.clientCpuPercent),
      workerCpuPercentPerSession: round(perSession, 2),
      sessionsPerCore: Math.floor(100 / perSession),
      sessionsPerCoreWithServer: Math.floor(100 / ((w.workerCpuPercent + w.serverCpuPercent) / opts.rooms)),
      rssMiB: round(product.rssMiB),
      maxEventLoopLagMs: Math.round(maxEventLoopLagMs),
      packetsReceived: w.packetsReceived,
      packetsForwarded: w.packetsForwarded,
      packetLossPercent: round((100 * w.packetsLost) / Math.max(1, w.packetsLost + w.packetsReceived), 3),
      baselinePacketsReceived: baseline.packetsReceived,
      baselinePacketsForwarded: baseline.packetsForwarded,
      joinToFirstFrameMs: { median: round(joinMedian), p95: round(percentile(joinTimes, 95)), samples: joinTimes.length, failed },
      ...(failed > 0 ? { joinFailures: joins.failures.slice(0, 5) } : {}),
      loadWarnings: [...w.stalledParties, ...baseline.stalledParties],
      roomKeyFrameIntervalMs: Math.round((1000 * KEY_FRAME_INTERVAL_FRAMES) / CLIP_FPS),
      goals: { workerWithin1_2xOfBaseline: ratio <= 1.2, joinMedianUnder400ms: joinMedian < 400, noFailedJoins: failed === 0 },
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', loadAverage: os.loadavg().map((x) => round(x, 2)), node: process.version, ffmpeg: spawnSync(ffmpegPath, ['-version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '', chromium: browser.version() },
    };
  } finally {
    await browser.close().catch(() => undefined);
    blank.http.close();
    sink.proc.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
  }
  console.log(opts.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  if (failed > 0) {
    const first = (result['joinFailures'] as string[] | undefined)?.[0] ?? '';
    console.error(`bench:media: FAILED: ${failed} of ${opts.joins} browser joins saw no remote frame; first cause: ${first}`);
    return 1;
  }
  return 0;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof BenchFailure ? `bench:media: FAILED: ${err.message}` : err);
    process.exit(1);
  }
);
