// The evidence clerk page in headless Chromium against a real server, real
// ffmpeg-made recording files in the real recording store, real xorriso: the
// clerk signs in, sees the finished booking with gaps, builds its disc image
// through the page with the progress bar moving to done, previews the evidence
// video, sees "no drive attached" while none is, verifies, burns the master
// onto a stdio: pseudo-drive once one is attached, seals it before a witness,
// records a hand-over of the working copy, and opens the printable label.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { launchBrowser } from './helpers/browser.js';
import { bookingRequest, call } from './helpers/http.js';
import { makeOriginal, sha256File } from './helpers/evidence-fixture.js';
import { makeUser, type TestUser } from './helpers/accounts.js';
import { recordingDir } from '../recordings/recording-store.js';
import { staffOf } from './helpers/staff.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const CASE = '朝检刑诉〔2026〕88号';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'plea-clerk-page-'));
const t0 = Date.parse('2026-11-27T01:16:00.000Z');
const iso = (s: number) => new Date(t0 + s * 1000).toISOString();
let server: Server;
let browser: Browser;
let page: Page;
let clerk: TestUser;
let bookingId: string;

function tsSegment(file: string, seconds: number, offset: number): void {
  // What the room agent uploads: self-contained H.264/AAC MPEG-TS segments.
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=720x576:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=${600 + offset}:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-output_ts_offset', String(offset), '-f', 'mpegts', file,
  ]);
}

/** A finished booking whose recording is in the store as the recorder and the upload route leave it. */
async function finishedBooking(): Promise<string> {
  const staff = await staffOf(server);
  const created = await call<{ id: string }>(server.url, 'POST', '/api/bookings', bookingRequest({ caseNumber: CASE }), staff);
  expect(created.status).toBe(201);
  const id = created.body.id;
  const rec = server.recordings;
  const dir = recordingDir(server.config.dataDir, id);
  rec.started({ bookingId: id, roomId: server.config.site.rooms[0]!.id, at: iso(0), sessionClockOrigin: iso(0) });
  mkdirSync(path.join(dir, 'evidence'), { recursive: true });
  mkdirSync(path.join(dir, 'originals'), { recursive: true });
  for (const [i, name] of ['seg-00001.ts', 'seg-00002.ts'].entries()) {
    const file = path.join(dir, 'evidence', name);
    tsSegment(file, 2, i * 2);
    rec.addSegment({ bookingId: id, source: 'evidence', track: 'evidence', partyId: null, path: `evidence/${name}`, startedAt: iso(i * 2), endedAt: iso(i * 2 + 2), bytes: statSync(file).size, sha256: sha256File(file), container: 'ts', codec: 'h264+aac' });
    for (const [track, kind] of [['room.video', 'video'], ['room.audio', 'audio']] as const) {
      const rel = `originals/${track}-${i + 1}.webm`;
      makeOriginal(path.join(dir, rel), kind, 2, i);
      rec.addSegment({ bookingId: id, source: 'original', track, partyId: 'p-room', path: rel, startedAt: iso(i * 2), endedAt: iso(i * 2 + 2), bytes: statSync(path.join(dir, rel)).size, sha256: sha256File(path.join(dir, rel)), container: 'webm', codec: kind === 'video' ? 'vp8' : 'opus' });
    }
  }
  rec.openGap({ bookingId: id, source: 'original', track: null, startedAt: iso(1), cause: 'recorder_crashed', endedAt: iso(2) });
  rec.finished(id, { at: iso(4) });
  return id;
}

beforeAll(async () => {
  // One burner configured, not attached: the page must say so.
  server = await startTestServer({ rooms: 2, standingSessions: false, overrides: { evidence: { drives: { 'drive-a': '/dev/plea-no-such-drive' } } } });
  bookingId = await finishedBooking();
  clerk = await makeUser(server, ['evidence_clerk'], { displayName: '王书记员' });
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  page = await context.newPage();
  page.on('pageerror', (err) => process.stderr.write(`[evidence page error] ${err.message}\n`));
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

/** Records every value data-fraction / data-state of the job panel takes, from the DOM itself. */
async function watchJob(p: Page): Promise<void> {
  await p.evaluate(() => {
    const w = window as unknown as { __jobSeen: Array<{ kind: string; state: string; fraction: number }> };
    w.__jobSeen = [];
    const record = () => {
      const el = document.querySelector<HTMLElement>('[data-testid="job"]');
      if (!el) return;
      w.__jobSeen.push({ kind: el.dataset.kind ?? '', state: el.dataset.state ?? '', fraction: Number(el.dataset.fraction) });
    };
    new MutationObserver(record).observe(document.body, { subtree: true, attributes: true, childList: true, attributeFilter: ['data-fraction', 'data-state', 'style'] });
  });
}
async function jobSeen(p: Page): Promise<Array<{ kind: string; state: string; fraction: number }>> {
  return p.evaluate(() => (window as unknown as { __jobSeen: Array<{ kind: string; state: string; fraction: number }> }).__jobSeen);
}
async function jobDone(p: Page, kind: string, timeout = 90_000): Promise<void> {
  await p.locator(`[data-testid="job"][data-kind="${kind}"][data-state="done"]`).waitFor({ timeout });
}
async function custodyKinds(p: Page): Promise<string[]> {
  return p.locator('[data-testid="custody-kind"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.kind ?? ''));
}

/** An Element Plus input by its test id (the attribute lands on the <input> itself). */
function input(p: Page, id: string) {
  return p.locator(`input[data-testid="${id}"], [data-testid="${id}"] input`).first();
}

describe('evidence clerk page', () => {
  it('signs the clerk in and lists the finished booking with its recording state', async () => {
    await page.goto(`${server.url}/evidence`);
    await page.getByTestId('sign-in').waitFor({ timeout: 20_000 });
    await input(page, 'sign-in-username').fill(clerk.username);
    await input(page, 'sign-in-password').fill(clerk.password);
    await page.getByTestId('sign-in-submit').click();
    await page.waitForFunction((id) => window.__pleaEvidence?.bookingIds().includes(id), bookingId, { timeout: 20_000 });
    const row = page.locator(`[data-testid="evidence-row"][data-id="${bookingId}"]`);
    await expect(row.getAttribute('data-state')).resolves.toBe('with_gaps');
    await expect(row.textContent()).resolves.toContain(CASE);
    // Chinese by default.
    await expect(page.locator('h1').textContent()).resolves.toBe('录像证据与刻录');
    // The configured drive is not there: said on the page.
    await page.getByTestId('no-drive-banner').waitFor();
    await expect(page.locator('[data-testid="drive"]').getAttribute('data-attached')).resolves.toBe('false');
  });

  it('builds the disc image through the page, the progress bar moving to done, and plays the evidence video', async () => {
    await page.locator(`[data-testid="evidence-row"][data-id="${bookingId}"]`).click();
    await page.getByTestId('booking-evidence').waitFor();
    await page.getByTestId('no-video').waitFor();
    await watchJob(page);
    const build = page.getByTestId('build-button');
    await waitFor('build button open', () => build.isEnabled());
    const jobRequests: string[] = [];
    const onRequest = (r: { url(): string }) => { const u = new URL(r.url()).pathname; if (u.startsWith('/api/evidence/jobs/')) jobRequests.push(u); };
    page.on('request', onRequest);
    await build.click();
    await jobDone(page, 'build');
    page.off('request', onRequest);
    // The progress was pushed (server-sent events), not polled.
    expect(jobRequests.length, JSON.stringify(jobRequests)).toBeGreaterThan(0);
    expect(jobRequests.every((u) => u.endsWith('/events')), JSON.stringify(jobRequests)).toBe(true);
    const seen = (await jobSeen(page)).filter((s) => s.kind === 'build');
    // The bar moved: at least one reading strictly between start and done, then done at 100 %.
    expect(seen.some((s) => s.state === 'running' && s.fraction > 0 && s.fraction < 1), JSON.stringify(seen)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ state: 'done', fraction: 1 });
    await expect(page.locator('[data-testid="job-progress"] .el-progress-bar__inner').evaluate((e) => (e as HTMLElement).style.width)).resolves.toBe('100%');
    await page.locator('[data-testid="detail-state"][data-state="ready"]').waitFor({ timeout: 10_000 });

    const discs = server.evidence.custody.discImages(bookingId);
    expect(discs).toHaveLength(1);
    await expect(page.getByTestId('disc-sha256').textContent()).resolves.toContain(discs[0]!.sha256);

    // The joined evidence video plays in the page (metadata read over the clerk's cookie).
    const video = page.getByTestId('evidence-video');
    await video.waitFor({ timeout: 10_000 });
    const duration = await waitFor('video metadata', () => video.evaluate((v) => ((v as HTMLVideoElement).readyState >= 1 ? (v as HTMLVideoElement).duration : 0)), 15_000);
    expect(Math.abs(duration - 4)).toBeLessThan(0.5);
  });

  it('says no drive is attached and keeps burning closed; verifies the image with progress', async () => {
    await page.getByTestId('no-drive').waitFor();
    await expect(page.getByTestId('disc-burnMaster').isDisabled()).resolves.toBe(true);
    await expect(page.getByTestId('disc-burnWorking').isDisabled()).resolves.toBe(true);
    // Sealing waits for a burned master: the server says so, the page shows it closed.
    await expect(page.getByTestId('disc-seal').isDisabled()).resolves.toBe(true);

    await watchJob(page);
    await page.getByTestId('disc-verify').click();
    await jobDone(page, 'verify');
    await waitFor('verified custody event', async () => (await custodyKinds(page)).includes('verified'));
    expect(server.evidence.custody.events(bookingId).map((e) => e.kind)).toEqual(['image_built', 'verified']);
  });

  it('burns the master once a drive is attached, seals it before a witness and records a hand-over: to whom, by whom, when', async () => {
    // A burner is plugged in (xorriso's stdio: pseudo-drive, which runs the whole burn path onto a file).
    const drives = server.config.evidence.drives;
    drives['drive-a'] = `stdio:${tmp}/drive-a.bin`;
    await page.getByTestId('refresh').click();
    await waitFor('drive attached', async () => (await page.locator('[data-testid="drive"]').getAttribute('data-attached')) === 'true');
    await expect(page.getByTestId('no-drive-banner').count()).resolves.toBe(0);
    const burn = page.getByTestId('disc-burnMaster');
    await waitFor('burn open', () => burn.isEnabled());
    await burn.click();
    await jobDone(page, 'burn');
    await waitFor('burned custody event', async () => (await custodyKinds(page)).includes('burned'));

    const seal = page.getByTestId('disc-seal');
    await waitFor('seal open', () => seal.isEnabled());
    await seal.click();
    await input(page, 'seal-witness').fill('李见证');
    await page.getByTestId('seal-submit').click();
    await page.locator('[data-testid="detail-state"][data-state="sealed"]').waitFor({ timeout: 10_000 });

    await page.getByTestId('disc-handOver').click();
    await page.getByTestId('hand-over-copy-working').click();
    await input(page, 'hand-over-to').fill('赵检察官（第二检察部）');
    await page.getByTestId('hand-over-submit').click();
    await waitFor('hand-over on the page', async () => (await custodyKinds(page)).includes('handed_over'));
    await expect(page.locator('[data-testid="custody-to"]').allTextContents()).resolves.toEqual(expect.arrayContaining(['李见证', '赵检察官（第二检察部）']));

    const events = server.evidence.custody.events(bookingId);
    expect(events.map((e) => e.kind)).toEqual(['image_built', 'verified', 'burned', 'verified', 'sealed', 'handed_over']);
    const handOver = events.at(-1)!;
    expect(handOver).toMatchObject({ copy: 'working', handedTo: '赵检察官（第二检察部）', actor: `user:${clerk.username}`, discNo: 1 });
    expect(events.find((e) => e.kind === 'sealed')).toMatchObject({ copy: 'master', handedTo: '李见证', actor: `user:${clerk.username}` });
    await expect(page.getByTestId('custody-intact').getAttribute('data-intact')).resolves.toBe('true');
    // The master is sealed: the server closes burning it again, the page follows.
    await expect(page.getByTestId('disc-burnMaster').isDisabled()).resolves.toBe(true);
  });

  it('opens the printable label of the disc case: case, room, date, disc n of m, SHA-256, master or working copy', async () => {
    const disc = server.evidence.custody.discImages(bookingId)[0]!;
    await page.getByTestId('disc-label-master').click();
    const frameEl = await page.getByTestId('label-frame').elementHandle();
    const frame = (await frameEl!.contentFrame()) as Frame;
    await frame.waitForLoadState('load');
    // The frame may still show its empty first document: wait for the label's own text.
    const text = await waitFor('label text', async () => {
      const t = (await frame.locator('body').textContent().catch(() => null)) ?? '';
      return t.trim() ? t : '';
    });
    expect(text).toContain(CASE);
    expect(text).toContain('原件');
    expect(text).toContain(`第${disc.discNo}/${disc.discCount}张`);
    expect(text).toContain(disc.sha256);
    expect(text).toContain(server.config.site.rooms[0]!.name);
    // English is there too.
    await page.keyboard.press('Escape');
    await page.locator('[data-testid="language-switch"] label', { hasText: 'EN' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('Evidence recordings and discs');
  });
});
