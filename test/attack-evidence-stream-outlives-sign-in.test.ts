// Regression, named after the attack: "the evidence-job progress stream outlives
// the clerk's sign-in". A server-sent event stream lives longer than the request
// that opened it: when its clerk logs out everywhere (or is disabled), the stream
// ends at once with a `signed-out` event instead of going on until the job ends;
// and one caller holds at most a few streams at once (the refusal audited).
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { makeOriginal, sha256File } from './helpers/evidence-fixture.js';
import { makeUser, signIn, type SignedIn } from './helpers/accounts.js';
import { staffOf } from './helpers/staff.js';
import { recordingDir } from '../recordings/recording-store.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let clerk: SignedIn;
let bookingId: string;
const t0 = Date.parse('2026-11-27T01:16:00.000Z');
const iso = (s: number) => new Date(t0 + s * 1000).toISOString();

beforeAll(async () => {
  server = await startTestServer({ rooms: 2, standingSessions: false });
  const created = await call<{ id: string }>(server.url, 'POST', '/api/bookings', bookingRequest({ caseNumber: '朝检刑诉〔2026〕99号' }), await staffOf(server));
  expect(created.status).toBe(201);
  bookingId = created.body.id;
  const rec = server.recordings;
  const dir = recordingDir(server.config.dataDir, bookingId);
  rec.started({ bookingId, roomId: server.config.site.rooms[0]!.id, at: iso(0), sessionClockOrigin: iso(0) });
  mkdirSync(path.join(dir, 'evidence'), { recursive: true });
  mkdirSync(path.join(dir, 'originals'), { recursive: true });
  const seg = path.join(dir, 'evidence', 'seg-00001.ts');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=720x576:rate=25:duration=2', '-f', 'lavfi', '-i', 'sine=frequency=600:sample_rate=48000:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', seg]);
  rec.addSegment({ bookingId, source: 'evidence', track: 'evidence', partyId: null, path: 'evidence/seg-00001.ts', startedAt: iso(0), endedAt: iso(2), bytes: statSync(seg).size, sha256: sha256File(seg), container: 'ts', codec: 'h264+aac' });
  const rel = 'originals/room.video-1.webm';
  makeOriginal(path.join(dir, rel), 'video', 2, 0);
  rec.addSegment({ bookingId, source: 'original', track: 'room.video', partyId: 'p-room', path: rel, startedAt: iso(0), endedAt: iso(2), bytes: statSync(path.join(dir, rel)).size, sha256: sha256File(path.join(dir, rel)), container: 'webm', codec: 'vp8' });
  rec.finished(bookingId, { at: iso(2) });
  clerk = await signIn(server, await makeUser(server, ['evidence_clerk']));
}, 60_000);
afterAll(async () => {
  await server?.cleanup();
});

/** Opens the job's event stream and reads it to its end (bounded); `onFirst` runs once the first event is in. */
async function readStream(jobId: string, onFirst?: () => Promise<void>): Promise<string> {
  const res = await fetch(`${server.url}/api/evidence/jobs/${jobId}/events`, { headers: clerk.headers(false) });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let first = true;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (first && text.includes('data: ')) {
      first = false;
      await onFirst?.();
    }
  }
  return text;
}

describe('attack: the evidence-job progress stream outlives the clerk\'s sign-in', () => {
  it('ends every open stream of the clerk at once when they log out everywhere, and refuses a fifth stream', async () => {
    const started = await clerk.call<{ id: string }>('POST', `/api/evidence/bookings/${bookingId}/build`, {});
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const jobId = started.body.id;
    let fifth = 0;
    let stateAtLogout = '';
    const others: Array<Promise<string>> = [];
    const first = readStream(jobId, async () => {
      // Three more streams of the same clerk are allowed, a fifth is refused.
      for (let i = 0; i < 3; i++) others.push(readStream(jobId));
      await new Promise((r) => setTimeout(r, 200));
      fifth = (await fetch(`${server.url}/api/evidence/jobs/${jobId}/events`, { headers: clerk.headers(false) })).status;
      stateAtLogout = server.evidence.job(jobId)?.state ?? '';
      expect((await clerk.call('POST', '/api/auth/logout-everywhere', {})).status).toBe(200);
    });
    const texts = [await first, ...(await Promise.all(others))];
    // The race was real: the build was still going when the clerk was signed out.
    expect(['queued', 'running']).toContain(stateAtLogout);
    expect(fifth).toBe(429);
    expect(server.audit.recent(200).some((e) => e.action === 'limit.refused' && e.subject === 'route:GET /api/evidence/jobs/:jobId/events')).toBe(true);
    for (const text of texts) {
      expect(text).toContain('event: signed-out');
      expect(text).not.toMatch(/"state":"done"/);
    }
    // Signed out, the stream is not opened again.
    expect((await fetch(`${server.url}/api/evidence/jobs/${jobId}/events`, { headers: clerk.headers(false) })).status).toBe(401);
  }, 90_000);
});
