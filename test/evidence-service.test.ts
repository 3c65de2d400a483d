// From a finished booking's recording in the store to sealed discs: the
// collector joins the evidence video's MPEG-TS segments with -c copy, the disc
// set carries the originals with their stored hashes and the gaps with which
// record covers them; build, verify, burn (stdio: pseudo-drives), seal, hand
// over through the REST routes with the evidence clerk's rule; the CLI verifies
// an image and names a broken file.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { makeOriginal, sha256File } from './helpers/evidence-fixture.js';
import { recordingDir } from '../recordings/recording-store.js';
import { buildHttp } from '../server/http/app.js';
import { evidenceRoutes } from '../server/http/evidence-routes.js';
import { JobStreams } from '../server/http/job-streams.js';
import { createRootLogger } from '../server/logger.js';
import type { Principal } from '../server/access/authorization.js';
import type { EvidenceJob } from '../recordings/disc/evidence-service.js';
import type { Manifest } from '../recordings/disc/disc-files.js';
import type { FastifyInstance } from 'fastify';
import { staffOf } from './helpers/staff.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let clerkApp: FastifyInstance;
let bookingId: string;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'plea-evidence-'));
const clerk: Principal = { kind: 'user', userId: 'u-1', username: 'clerk.wang', displayName: '王书记员', organisationId: 'o-1', roles: ['evidence_clerk'], loginSessionId: 's-1', mustChangePassword: false };
const t0 = Date.parse('2026-11-27T01:16:00.000Z');
const iso = (s: number) => new Date(t0 + s * 1000).toISOString();

function tsSegment(file: string, seconds: number, offset: number): void {
  // What the room agent uploads: self-contained H.264/AAC MPEG-TS segments.
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=720x576:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=${600 + offset}:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-output_ts_offset', String(offset), '-f', 'mpegts', file,
  ]);
}

function probeDuration(file: string): { duration: number; codecs: string[] } {
  const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', file]).toString()) as {
    format: { duration: string }; streams: Array<{ codec_name: string }>;
  };
  return { duration: Number(out.format.duration), codecs: out.streams.map((s) => s.codec_name).sort() };
}

/** The room agent's upload of one evidence segment (the route the agent's uploader calls). */
function uploadAsAgent(file: string, name: string, startedAt: string, endedAt: string): Promise<Response> {
  const room = server.config.site.rooms[0]!.id;
  const q = new URLSearchParams({ startedAt, endedAt, sha256: sha256File(file) });
  return fetch(`${server.url}/api/rooms/${room}/evidence/${bookingId}/segments/${name}?${q}`, {
    method: 'PUT', headers: { 'content-type': 'video/mp2t', authorization: `Agent ${room}:${server.secrets.agentCredentials[room] ?? ''}` }, body: new Uint8Array(readFileSync(file)),
  });
}

async function settle(job: EvidenceJob): Promise<EvidenceJob> {
  return waitFor(`job ${job.id}`, async () => {
    const r = await clerkApp.inject({ method: 'GET', url: `/api/evidence/jobs/${job.id}` });
    const j = r.json() as EvidenceJob;
    return j.state === 'done' || j.state === 'failed' ? j : null;
  }, 60_000, 100);
}

beforeAll(async () => {
  server = await startTestServer({
    rooms: 2, standingSessions: false,
    overrides: { evidence: { drives: { 'drive-a': `stdio:${tmp}/drive-a.bin`, 'drive-b': `stdio:${tmp}/drive-b.bin`, absent: '/dev/plea-no-such-drive' } } },
  });
  const staff = await staffOf(server);
  const created = await call<{ id: string }>(server.url, 'POST', '/api/bookings', bookingRequest({ caseNumber: '朝检刑诉〔2026〕77号' }), staff);
  expect(created.status).toBe(201);
  bookingId = created.body.id;
  expect((await call(server.url, 'POST', `/api/bookings/${bookingId}/status`, { status: 'escorting' }, staff)).status).toBe(200);

  // The booking's recording as the recorder and the upload route leave it.
  const rec = server.recordings;
  const dir = recordingDir(server.config.dataDir, bookingId);
  rec.started({ bookingId, roomId: server.config.site.rooms[0]!.id, at: iso(0), sessionClockOrigin: iso(0) });
  mkdirSync(path.join(dir, 'evidence'), { recursive: true });
  mkdirSync(path.join(dir, 'originals'), { recursive: true });
  for (const [i, name] of ['seg-00001.ts', 'seg-00002.ts'].entries()) {
    const file = path.join(dir, 'evidence', name);
    tsSegment(file, 2, i * 2);
    rec.addSegment({ bookingId, source: 'evidence', track: 'evidence', partyId: null, path: `evidence/${name}`, startedAt: iso(i * 2), endedAt: iso(i * 2 + 2), bytes: statSync(file).size, sha256: sha256File(file), container: 'ts', codec: 'h264+aac' });
    for (const [track, kind] of [['room.video', 'video'], ['room.audio', 'audio']] as const) {
      const rel = `originals/${track}-${i + 1}.webm`;
      makeOriginal(path.join(dir, rel), kind, 2, i);
      rec.addSegment({ bookingId, source: 'original', track, partyId: 'p-room', path: rel, startedAt: iso(i * 2), endedAt: iso(i * 2 + 2), bytes: statSync(path.join(dir, rel)).size, sha256: sha256File(path.join(dir, rel)), container: 'webm', codec: kind === 'video' ? 'vp8' : 'opus' });
    }
  }
  rec.openGap({ bookingId, source: 'original', track: null, startedAt: iso(1), cause: 'recorder_crashed', endedAt: iso(2) });
  rec.finished(bookingId, { at: iso(4) });

  clerkApp = (await buildHttp(createRootLogger('silent'), { cookieSecret: 'x'.repeat(32), authenticate: () => clerk, csrfValid: () => true, refused: () => {} })).app;
  await clerkApp.register(evidenceRoutes(server.evidence, new JobStreams(() => clerk, () => {})));
  await clerkApp.ready();
});
afterAll(async () => {
  await clerkApp?.close();
  await server?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe('evidence clerk', () => {
  it('is a role: detention staff cannot reach the evidence routes', async () => {
    const r = await call(server.url, 'GET', '/api/evidence/bookings', undefined, await staffOf(server));
    expect(r.status).toBe(403);
    expect((await call(server.url, 'POST', `/api/evidence/bookings/${bookingId}/build`, {})).status).toBe(401);
  });

  it('builds the disc set with progress: one joined evidence MP4, the originals as stored, gaps and who covers them', async () => {
    const list = (await clerkApp.inject({ method: 'GET', url: '/api/evidence/bookings' })).json() as { bookings: Array<{ bookingId: string; state: string }> };
    expect(list.bookings.find((b) => b.bookingId === bookingId)?.state).toBe('with_gaps');
    const started = await clerkApp.inject({ method: 'POST', url: `/api/evidence/bookings/${bookingId}/build`, payload: {} });
    expect(started.statusCode).toBe(202);
    const seen: number[] = [];
    const onJob = (j: EvidenceJob) => seen.push(j.fraction);
    server.evidence.on('job', onJob);
    const job = await settle(started.json() as EvidenceJob);
    server.evidence.off('job', onJob);
    expect(job.error).toBeNull();
    expect(job.state).toBe('done');
    expect(seen.some((f) => f > 0 && f < 1)).toBe(true);

    const discs = server.evidence.custody.discImages(bookingId);
    expect(discs).toHaveLength(1);
    const x = mkdtempSync(path.join(tmp, 'x-'));
    execFileSync('bsdtar', ['-x', '-f', discs[0]!.path, '-C', x]);
    const video = probeDuration(path.join(x, 'evidence', 'evidence.mp4'));
    expect(video.codecs).toEqual(['aac', 'h264']);
    expect(Math.abs(video.duration - 4)).toBeLessThan(0.3); // both 2 s segments, joined
    for (const s of server.recordings.segments(bookingId, 'original')) expect(sha256File(path.join(x, s.path)), s.path).toBe(s.sha256);
    const m = JSON.parse(readFileSync(path.join(x, 'manifest.json'), 'utf8')) as Manifest;
    expect(m.booking.caseNumber).toBe('朝检刑诉〔2026〕77号');
    expect(m.booking.gaps).toEqual([expect.objectContaining({ source: 'original', cause: 'recorder_crashed', coveredBy: 'evidence' })]);
    expect(m.booking.statusHistory.map((s) => s.status)).toContain('escorting');
    const ev = m.files.find((f) => f.path === 'evidence/evidence.mp4');
    expect(ev?.joinedFrom?.map((j) => j.sha256)).toEqual(server.recordings.segments(bookingId, 'evidence').map((s) => s.sha256));
    expect(readFileSync(path.join(x, '情况说明.html'), 'utf8')).toContain('录制进程异常退出');

    // The evidence video is there for preview, in ranges.
    const part = await clerkApp.inject({ method: 'GET', url: `/api/evidence/bookings/${bookingId}/evidence-video`, headers: { range: 'bytes=0-99' } });
    expect(part.statusCode).toBe(206);
    expect(part.rawPayload.length).toBe(100);

    // Built again from scratch (joined video removed): the same image, byte for byte.
    const first = discs[0]!.sha256;
    unlinkSync(path.join(server.config.evidence.outDir, 'work', bookingId, 'evidence.mp4'));
    const again = await settle((await clerkApp.inject({ method: 'POST', url: `/api/evidence/bookings/${bookingId}/build`, payload: {} })).json() as EvidenceJob);
    expect(again.state).toBe('done');
    expect(server.evidence.custody.discImages(bookingId)[0]?.sha256).toBe(first);
  });

  it('a segment stored after the build (an agent back from a network drop) makes the image stale: not burned until built again', async () => {
    const first = server.evidence.custody.discImages(bookingId)[0]!;
    expect(server.evidence.imagesStale(bookingId)).toBe(false);
    const file = path.join(tmp, 'late.ts');
    tsSegment(file, 2, 4);
    const late = await uploadAsAgent(file, '20261127T011604Z-00003.ts', iso(4), iso(6));
    expect(late.status).toBe(201);
    expect(server.evidence.imagesStale(bookingId)).toBe(true);
    expect(server.db.prepare("SELECT COUNT(*) AS n FROM audit_entries WHERE action = 'evidence.image_stale' AND subject = ?").get(`booking:${bookingId}`)).toEqual({ n: 1 });
    // The clerk page is told, and the service refuses what the page shows closed.
    const actions = server.evidence.actions(bookingId).discs[0]!;
    expect(actions.burnMaster.blockedBy).toBe('image_stale');
    expect(actions.seal.blockedBy).toBe('image_stale');
    expect(server.evidence.summary(bookingId).state).not.toBe('ready');
    const refused = await clerkApp.inject({ method: 'POST', url: `/api/evidence/bookings/${bookingId}/discs/1/burn`, payload: { copy: 'master', drive: 'drive-a' } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: 'image_stale' });
    // Built again, the image holds the late segment and may be burned. The build's progress is pushed (server-sent events) to its end.
    const started = (await clerkApp.inject({ method: 'POST', url: `/api/evidence/bookings/${bookingId}/build`, payload: {} })).json() as EvidenceJob;
    const stream = await clerkApp.inject({ method: 'GET', url: `/api/evidence/jobs/${started.id}/events` });
    expect(stream.statusCode).toBe(200);
    expect(stream.headers['content-type']).toContain('text/event-stream');
    const pushed = stream.body.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => JSON.parse(e.slice(6)) as EvidenceJob);
    expect(pushed.every((j) => j.id === started.id)).toBe(true);
    expect(pushed.some((j) => j.state === 'running' && j.fraction > 0 && j.fraction < 1)).toBe(true);
    expect(new Set(pushed.map((j) => j.step)).size).toBeGreaterThanOrEqual(3); // collecting, note, image …
    const again = pushed.at(-1)!;
    expect(again.state).toBe('done');
    expect((await clerkApp.inject({ method: 'GET', url: `/api/evidence/jobs/${started.id}/events` })).body.split('\n\n').filter((e) => e.startsWith('data: '))).toHaveLength(1); // an ended job: itself, then the end
    const rebuilt = server.evidence.custody.discImages(bookingId)[0]!;
    expect(rebuilt.sha256).not.toBe(first.sha256);
    expect(server.evidence.imagesStale(bookingId)).toBe(false);
    expect(server.evidence.actions(bookingId).discs[0]?.burnMaster.allowed).toBe(true);
  });

  it('burns master and working copy, reads them back, and tracks the state to sealed with every custody event', async () => {
    const burn = (copy: string, drive: string) => clerkApp.inject({ method: 'POST', url: `/api/evidence/bookings/${bookingId}/discs/1/burn`, payload: { copy, drive } });
    const absent = await burn('master', 'absent');
    expect(absent.statusCode).toBe(409);
    expect(absent.json()).toMatchObject({ error: 'no_drive', message: expect.stringContaining('no optical drive is attached') });
    // The service refuses what the clerk page is shown closed (clerk-actions.ts, one rule): no seal before the master is burned.
    const early = await clerkApp.inject({ method: 'POST', url: `/api/evidence/bookings/${bookingId}/discs/1/seal`, payload: { witness: '见证人 刘某' } });
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({ error: 'master_not_burned' });
    const [m, w] = await Promise.all([burn('master', 'drive-a'), burn('working', 'drive-b')]);
    expect((await settle(m.json() as EvidenceJob)).state).toBe('done');
    expect((await settle(w.json() as EvidenceJob)).state).toBe('done');
    const image = server.evidence.custody.discImages(bookingId)[0]!;
    expect(sha256File(`${tmp}/drive-a.bin`).length).toBe(64);
    expect(server.evidence.summary(bookingId).state).toBe('burned');
    const sealed = await clerkApp.inject({ method: 'POST', url: `/api/evidence/bookings/${bookingId}/discs/1/seal`, payload: { witness: '见证人 刘某' } });
    expect(sealed.statusCode).toBe(201);
    // Once sealed, the master is neither sealed again nor burned again.
    const twice = await clerkApp.inject({ method: 'POST', url: `/api/evidence/bookings/${bookingId}/discs/1/seal`, payload: { witness: '见证人 刘某' } });
    expect(twice.statusCode).toBe(409);
    expect(twice.json()).toMatchObject({ error: 'sealed' });
    const reburn = await burn('master', 'drive-a');
    expect(reburn.statusCode).toBe(409);
    expect(reburn.json()).toMatchObject({ error: 'sealed' });
    // Sealed: the agent's upload is refused and audited, nothing stored.
    const file = path.join(tmp, 'after-seal.ts');
    tsSegment(file, 1, 6);
    const segmentsBefore = server.recordings.segments(bookingId).length;
    const afterSeal = await uploadAsAgent(file, '20261127T011606Z-00004.ts', iso(6), iso(7));
    expect(afterSeal.status).toBe(409);
    expect(await afterSeal.json()).toMatchObject({ error: 'sealed' });
    expect(server.recordings.segments(bookingId)).toHaveLength(segmentsBefore);
    const refusal = server.db.prepare("SELECT actor, detail FROM audit_entries WHERE action = 'evidence.upload_refused' ORDER BY seq DESC LIMIT 1").get() as { actor: string; detail: string };
    expect(refusal.actor).toBe(`agent:${server.config.site.rooms[0]!.id}`);
    expect(JSON.parse(refusal.detail)).toMatchObject({ reason: 'sealed', segment: '20261127T011606Z-00004.ts' });
    const handed = await clerkApp.inject({ method: 'POST', url: `/api/evidence/bookings/${bookingId}/discs/1/hand-over`, payload: { copy: 'working', to: '李检察官' } });
    expect(handed.statusCode).toBe(201);
    expect(server.evidence.summary(bookingId).state).toBe('sealed');
    const custody = (await clerkApp.inject({ method: 'GET', url: `/api/evidence/bookings/${bookingId}/custody` })).json() as { events: Array<{ kind: string; actor: string; copy: string | null }>; intact: boolean };
    expect(custody.intact).toBe(true);
    expect(custody.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['image_built', 'burned', 'verified', 'sealed', 'handed_over']));
    expect(custody.events.every((e) => e.actor === 'user:clerk.wang')).toBe(true);
    const label = await clerkApp.inject({ method: 'GET', url: `/api/evidence/bookings/${bookingId}/discs/1/label?copy=master` });
    expect(label.headers['content-type']).toContain('text/html');
    expect(label.body).toContain(image.sha256);
    expect(label.body).toContain('朝检刑诉〔2026〕77号');
  });

  it('CLI: verify passes the image and names the file when one byte of it is flipped', () => {
    const image = server.evidence.custody.discImages(bookingId)[0]!.path;
    const env = { ...process.env, PLEA_DATA_DIR: server.config.dataDir };
    const ok = spawnSync('npx', ['tsx', 'scripts/evidence.ts', 'verify', image], { env, encoding: 'utf8' });
    expect(ok.stdout).toContain('VERIFIED');
    expect(ok.status).toBe(0);
    const bad = path.join(tmp, 'bad.iso');
    copyFileSync(image, bad);
    const target = server.recordings.segments(bookingId, 'original')[1]!.path;
    const lba = /File data lba:\s+\d+\s*,\s*(\d+)\s*,/.exec(execFileSync('xorriso', ['-indev', bad, '-find', `/${target}`, '-exec', 'report_lba', '--'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    const at = Number(lba![1]) * 2048 + 10;
    const fd = openSync(bad, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = (b[0] as number) ^ 0xff;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
    const r = spawnSync('npx', ['tsx', 'scripts/evidence.ts', 'verify', bad], { env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`FAIL ${target}: hash_mismatch`);
    expect(r.stdout).toContain('NOT VERIFIED');
  });
});
