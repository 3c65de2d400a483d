// The server records every track of a booking's session as copied originals in
// hashed segments: a three-way session of > 30 s with a party leaving and
// rejoining and the recorder's ffmpeg killed mid-session; a media-worker death
// and a server restart (the recording continues in the reopened session, with
// gaps); the disk reserve (new sessions refused, the running recording
// finishes cleanly). Real worker, real ffmpeg, real SQLite.
import { openSync, readFileSync, writeFileSync, closeSync, writeSync, rmSync, statfsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { inProcessAgent, freeTcpPort, producerBytes } from './helpers/agent.js';
import { syntheticParty, type SyntheticParty } from './helpers/synthetic-party.js';
import { allDayOverrides, bookInRoom, ffprobe, segmentFile, setStatus, tenOClock, trackSeconds } from './helpers/recording.js';
import { recordingDir } from '../recordings/recording-store.js';
import type { RoomAgent } from '../room-agent/agent.js';

const SEGMENT_S = 6;
const overrides = (extra: Record<string, unknown> = {}) => ({
  ...allDayOverrides,
  recording: { segmentSeconds: SEGMENT_S, diskReserveMiB: 256, diskStopMiB: 64, diskCheckSeconds: 1, restartDelayMs: 300, rtpMinPort: 45000, rtpMaxPort: 49999, ...extra },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (iso: string | null) => (iso ? Date.parse(iso) : NaN);

type Server = Awaited<ReturnType<typeof startTestServer>>;

describe('recording of a three-way session', () => {
  const agents: RoomAgent[] = [];
  const parties: SyntheticParty[] = [];
  let server: Server | null = null;
  afterAll(async () => {
    for (const p of parties) p.publisher.stop();
    for (const a of agents) a.stop();
    await server?.cleanup();
  });

  // Mutations caught: no recorder wired (no originals); recorder following only the first
  // producer of a role (the rejoined lawyer is missing); no restart after an ffmpeg death
  // (prosecutor.audio stops and its gap never closes); segments not chained or not re-hashed.
  it('keeps per-track originals of every party, follows a rejoin, resumes after a recorder crash, and chains the segments', async () => {
    server = await startTestServer({ rooms: 1, standingSessions: false, overrides: overrides(), clock: tenOClock });
    const ROOM = server.config.site.rooms[0]!.id;
    const booking = await bookInRoom(server, ROOM);
    expect(booking.status).toBe(200);
    const session = server.registry.forBooking(booking.id)!;
    const prosecutor = await syntheticParty(server, ROOM, 'prosecutor', '检察官 张');
    parties.push(prosecutor);
    const lawyer = await syntheticParty(server, ROOM, 'lawyer', '律师 李');
    parties.push(lawyer);
    // Nothing is recorded before the room joins.
    await sleep(1500);
    expect(server.recordings.recording(booking.id)).toBeNull();

    const agent = inProcessAgent(server, ROOM);
    agents.push(agent);
    agent.start();
    // The session's media begins when the room's camera and microphone carry RTP (mediasoup's count).
    const mediaAt = await waitFor('room media flowing', async () => {
      const room = session.partyList().find((p) => p.role === 'room');
      if (!room || room.producerEntries().length < 2) return null;
      const bytes = await producerBytes(room.producerEntries());
      return (bytes['video'] ?? 0) > 0 && (bytes['audio'] ?? 0) > 0 ? Date.now() : null;
    }, 30_000, 50);
    const rec = await waitFor('recording of six tracks', () => {
      const r = server!.recorder.recording(booking.id);
      return r && r.trackRecorders().filter((t) => t.recording).length === 6 ? r : null;
    }, 30_000);
    const roomJoined = ms(server.recordings.recording(booking.id)!.startedAt);
    expect(roomJoined).toBeLessThanOrEqual(mediaAt);

    // The lawyer leaves for a few seconds and comes back as a new party.
    await sleep(8000);
    const leftAt = Date.now();
    lawyer.leave();
    await sleep(4000);
    const lawyer2 = await syntheticParty(server, ROOM, 'lawyer', '律师 李');
    parties.push(lawyer2);
    const backAt = Date.now();
    await waitFor('rejoined lawyer recorded', () => rec.trackRecorders().filter((t) => t.partyId === lawyer2.party.id && t.recording).length === 2, 20_000);

    // The recorder's ffmpeg of the prosecutor's microphone is killed.
    await sleep(3000);
    const victim = rec.trackRecorders().find((t) => t.track === 'prosecutor.audio')!;
    const pid = victim.pid!;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor('prosecutor.audio recorded again', () => victim.pid !== null && victim.pid !== pid && victim.recording, 15_000);
    const resumedSeen = Date.now();

    // Run on past 30 s of session, then finish the booking.
    await sleep(Math.max(0, 32_000 - (Date.now() - mediaAt)));
    expect(await setStatus(server, booking.id, 'finished')).toBe(200);
    expect(session.closed).toBe(true);
    await waitFor('recording finished', () => server!.recordings.recording(booking.id)?.status === 'finished', 20_000);
    const stored = server.recordings.recording(booking.id)!;
    const sessionS = (ms(stored.endedAt) - mediaAt) / 1000;
    expect(sessionS).toBeGreaterThanOrEqual(30);

    const segments = server.recordings.segments(booking.id, 'original');
    const tracks = [...new Set(segments.map((s) => s.track))].sort();
    expect(tracks).toEqual(['lawyer.audio', 'lawyer.video', 'prosecutor.audio', 'prosecutor.video', 'room.audio', 'room.video']);
    // Several segments per track (segments of SEGMENT_S seconds), each a copy: VP8 or Opus, one stream.
    expect(segments.filter((s) => s.track === 'room.video').length).toBeGreaterThanOrEqual(3);
    for (const s of segments) {
      const p = ffprobe(segmentFile(server, s));
      expect(p.streams.map((x) => `${x.codec_type}:${x.codec_name}`), s.path).toEqual([s.track.endsWith('.video') ? 'video:vp8' : 'audio:opus']);
    }
    // Durations: the uninterrupted tracks cover the session within 1 s.
    for (const t of ['room.video', 'room.audio', 'prosecutor.video']) {
      expect(Math.abs(trackSeconds(server, segments, t) - sessionS), t).toBeLessThan(1);
    }
    // The lawyer's tracks: both parties, and the absence is a gap with its times.
    expect(new Set(segments.filter((s) => s.track === 'lawyer.video').map((s) => s.partyId))).toEqual(new Set([lawyer.party.id, lawyer2.party.id]));
    const gaps = server.recordings.gaps(booking.id);
    const absent = gaps.filter((g) => g.track === 'lawyer.video' && g.cause === 'party_absent');
    expect(absent).toHaveLength(1);
    expect(Math.abs(ms(absent[0]!.startedAt) - leftAt)).toBeLessThan(1500);
    expect(ms(absent[0]!.endedAt)).toBeGreaterThan(backAt - 500);
    expect(ms(absent[0]!.endedAt) - backAt).toBeLessThan(5000);
    const lawyerS = trackSeconds(server, segments, 'lawyer.video');
    expect(Math.abs(lawyerS - (sessionS - (ms(absent[0]!.endedAt) - ms(absent[0]!.startedAt)) / 1000))).toBeLessThan(1.5);
    // The crash: a gap of the prosecutor's microphone, from the kill to the restart.
    const crash = gaps.filter((g) => g.track === 'prosecutor.audio');
    expect(crash.map((g) => g.cause)).toEqual(['recorder_crashed']);
    expect(Math.abs(ms(crash[0]!.startedAt) - killedAt)).toBeLessThan(1500);
    expect(ms(crash[0]!.endedAt)).toBeGreaterThan(ms(crash[0]!.startedAt));
    expect(ms(crash[0]!.endedAt)).toBeLessThanOrEqual(resumedSeen + 500);
    expect(ms(crash[0]!.endedAt) - ms(crash[0]!.startedAt)).toBeLessThan(15_000); // "restarted within seconds"; the restart time itself is bench:record's
    const prosecutorAudioS = trackSeconds(server, segments, 'prosecutor.audio');
    // A crash loses at most the segment being written, besides the gap itself.
    expect(prosecutorAudioS).toBeGreaterThan(sessionS - SEGMENT_S - (ms(crash[0]!.endedAt) - ms(crash[0]!.startedAt)) / 1000 - 0.5);
    expect(prosecutorAudioS).toBeLessThan(sessionS - (ms(crash[0]!.endedAt) - ms(crash[0]!.startedAt)) / 1000 + 0.5);
    expect(server.recordings.state(booking.id)).toBe('with_gaps');

    // The chain verifies; a flipped byte in one segment is named.
    const dir = recordingDir(server.config.dataDir, booking.id);
    expect(await server.recordings.verifyChain(booking.id, dir)).toMatchObject({ ok: true, segments: segments.length });
    const victimSeg = segments[Math.floor(segments.length / 2)]!;
    const file = segmentFile(server, victimSeg);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
    writeFileSync(file, bytes);
    expect(await server.recordings.verifyChain(booking.id, dir)).toMatchObject({ ok: false, fault: { kind: 'file_hash_mismatch', seq: victimSeg.seq, path: victimSeg.path } });
    expect(server.audit.verify()).toBeNull();
  }, 120_000);
});

describe('recording across a worker death and a server restart', () => {
  const agents: RoomAgent[] = [];
  let server: Server | null = null;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-rec-restart-'));
  afterAll(async () => {
    for (const a of agents) a.stop();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  // Mutations caught: a recording finished (not interrupted) on worker_died / server_stopping
  // (no gap, state 'complete', nothing recorded after); a recorder that ignores reopened sessions
  // (no segment after the gap); a gap never closed.
  it('continues the booking\'s recording in the reopened session, with a gap for each interruption', async () => {
    const port = await freeTcpPort();
    server = await startTestServer({ dataDir, port, rooms: 1, standingSessions: false, overrides: overrides(), clock: tenOClock });
    const ROOM = server.config.site.rooms[0]!.id;
    const booking = await bookInRoom(server, ROOM);
    expect(booking.status).toBe(200);
    const agent = inProcessAgent(server, ROOM);
    agents.push(agent);
    agent.start();
    const roomTracks = (s: Server) => s.recorder.recording(booking.id)?.trackRecorders().filter((t) => t.recording && t.track.startsWith('room.')).length ?? 0;
    await waitFor('room recorded', () => roomTracks(server!) === 2, 30_000);
    await sleep(4000);

    // The worker dies: the session closes, the schedule reopens it, the agent rejoins, recording goes on.
    const first = server.registry.forBooking(booking.id)!;
    const diedAt = Date.now();
    process.kill(server.pool.pids()[0]!, 'SIGKILL');
    await waitFor('session reopened', () => { const s = server!.registry.forBooking(booking.id); return s && s !== first ? s : null; }, 20_000);
    await waitFor('room recorded again', () => roomTracks(server!) === 2, 30_000);
    expect(server.recordings.recording(booking.id)?.status).toBe('recording');
    const died = await waitFor('worker gap closed', () => server!.recordings.gaps(booking.id).find((g) => g.cause === 'worker_died' && g.endedAt !== null), 10_000);
    expect(died.track).toBeNull();
    expect(Math.abs(ms(died.startedAt) - diedAt)).toBeLessThan(2000);
    await sleep(4000);

    // The server stops and starts again (the agent reconnects by itself): the recording continues, its gap listed.
    const stoppedAt = Date.now();
    await server.close();
    server = await startTestServer({ dataDir, port, rooms: 1, standingSessions: false, overrides: overrides(), clock: tenOClock });
    await waitFor('room recorded after the restart', () => roomTracks(server!) === 2, 30_000);
    const restarted = await waitFor('restart gap closed', () => server!.recordings.gaps(booking.id).find((g) => g.cause === 'server_restarted' && g.endedAt !== null), 10_000);
    expect(Math.abs(ms(restarted.startedAt) - stoppedAt)).toBeLessThan(3000);
    expect(ms(restarted.endedAt)).toBeGreaterThan(ms(restarted.startedAt));
    await sleep(4000);
    expect(await setStatus(server, booking.id, 'finished')).toBe(200);
    await waitFor('recording finished', () => server!.recordings.recording(booking.id)?.status === 'finished', 20_000);

    // Room video segments before the worker death, between it and the restart, and after the restart.
    const video = server.recordings.segments(booking.id, 'original').filter((s) => s.track === 'room.video');
    const end = (g: { endedAt: string | null }) => ms(g.endedAt);
    // (Segment times come from ffmpeg's progress reports: on a loaded machine they may be off by a second.)
    const slack = 1500;
    expect(video.some((s) => ms(s.endedAt) <= ms(died.startedAt) + slack), 'segment before the worker death').toBe(true);
    expect(video.some((s) => ms(s.startedAt) >= end(died) - slack && ms(s.endedAt) <= ms(restarted.startedAt) + slack), 'segment of the reopened session').toBe(true);
    expect(video.some((s) => ms(s.startedAt) >= end(restarted) - slack), 'segment after the restart').toBe(true);
    for (const s of video) expect(ffprobe(segmentFile(server, s)).streams.map((x) => x.codec_name)).toEqual(['vp8']);
    expect(server.recordings.state(booking.id)).toBe('with_gaps');
    expect(server.recordings.gaps(booking.id).filter((g) => g.track === null).map((g) => g.cause)).toEqual(['worker_died', 'server_restarted']);
    expect(await server.recordings.verifyChain(booking.id, recordingDir(server.config.dataDir, booking.id))).toMatchObject({ ok: true });
  }, 150_000);
});

describe('disk reserve', () => {
  const agents: RoomAgent[] = [];
  let server: Server | null = null;
  afterAll(async () => {
    for (const a of agents) a.stop();
    await server?.cleanup();
  });

  // Mutations caught: no admission check (the second booking's session opens); the running
  // recording stopped or cut when the reserve is reached (its last segment missing, a disk gap).
  it('refuses a new session below the reserve with the reason, and the running recording finishes cleanly', async () => {
    const probeDir = mkdtempSync(path.join(os.tmpdir(), 'plea-rec-disk-'));
    const free = () => { const s = statfsSync(probeDir); return (Number(s.bavail) * Number(s.bsize)) / (1024 * 1024); };
    const reserve = Math.floor(free() - 300);
    rmSync(probeDir, { recursive: true, force: true });
    server = await startTestServer({ rooms: 2, standingSessions: false, overrides: overrides({ diskReserveMiB: reserve, diskStopMiB: 1 }), clock: tenOClock });
    const [A, B] = server.config.site.rooms.map((r) => r.id) as [string, string];
    const notices: string[] = [];
    server.recorder.on('disk', (n) => notices.push(n.level));
    const running = await bookInRoom(server, A);
    expect(running.status).toBe(200);
    const agent = inProcessAgent(server, A);
    agents.push(agent);
    agent.start();
    await waitFor('room recorded', () => server!.recorder.recording(running.id)?.trackRecorders().filter((t) => t.recording).length === 2, 30_000);

    // Fill the disk past the reserve.
    const filler = path.join(server.config.dataDir, 'filler.bin');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(16 * 1024 * 1024, 1);
    for (let i = 0; i < 40; i++) writeSync(fd, chunk);
    closeSync(fd);
    await waitFor('disk low noticed', () => notices.includes('low'), 10_000);
    const refused = await bookInRoom(server, B);
    expect(refused.status).toBe(409);
    expect(String(refused.body['message'])).toMatch(/below the reserve/);
    expect(server.registry.forRoom(B)).toBeUndefined();
    expect(server.audit.recent(200).some((e) => e.action === 'session.refused' && e.subject === `room:${B}`)).toBe(true);

    // The running recording goes on and finishes cleanly with its booking.
    await sleep(SEGMENT_S * 1000 + 2000);
    const finishAt = Date.now();
    expect(await setStatus(server, running.id, 'finished')).toBe(200);
    await waitFor('recording finished', () => server!.recordings.recording(running.id)?.status === 'finished', 20_000);
    // (The room agent's own evidence video may list a gap of its own on a loaded machine: only the originals are this test's.)
    expect(server.recordings.gaps(running.id).filter((g) => g.source === 'original')).toEqual([]);
    const video = server.recordings.segments(running.id, 'original').filter((s) => s.track === 'room.video');
    expect(Math.abs(ms(video[video.length - 1]!.endedAt) - finishAt)).toBeLessThan(1500);
    for (const s of video) expect(ffprobe(segmentFile(server, s)).duration).toBeGreaterThan(0);
    rmSync(filler, { force: true });
  }, 120_000);
});

