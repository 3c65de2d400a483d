// The newcomer's three-way session in the embedded demo, in real headless
// Chromium, through the real sign-in and booking path: the demo seeds its
// accounts and its day; the prosecutor and the duty lawyer each open the home
// page, are sent to sign in, sign in with the one-time password printed at the
// start, are made to change it, land on the home page, find the live booking
// in "My sessions", press "Join session", and meet the room's synthetic agent:
// each page decodes video and receives audio from both other parties.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { inProcessAgent } from './helpers/agent.js';
import { launchBrowser } from './helpers/browser.js';
import { loadConfig } from '../server/config.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { seedDemoAccounts, demoCast } from '../server/demo-accounts.js';
import { seedDemoDay, type SeededDay } from '../server/demo-schedule.js';
import type { RoomAgent } from '../room-agent/agent.js';

const demoConfig = loadConfig({ env: {}, demo: true });
const today = new SiteClock(demoConfig.site.timeZone).local().date;
const offsetMs = new SiteClock(demoConfig.site.timeZone).toEpochMs(today, 10 * 60) - Date.now();
const clock = new SiteClock(demoConfig.site.timeZone, () => Date.now() + offsetMs);

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let browser: Browser;
let agent: RoomAgent | null = null;
let day: SeededDay;
let passwords: Map<string, string>;
const pages: Partial<Record<'prosecutor' | 'lawyer', Page>> = {};

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false, clock, overrides: { schedule: demoConfig.schedule } });
  passwords = new Map((await seedDemoAccounts(server.accounts, server.departments)).map((a) => [a.username, a.temporaryPassword ?? '']));
  day = (await seedDemoDay(server.schedule, demoCast))!;
  const room = server.schedule.store.row(day.live!)!.room_id;
  agent = inProcessAgent(server, room);
  agent.start();
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await browser?.close();
  await server?.cleanup();
});

const input = (p: Page, attr: string) => p.locator(`input[${attr}]`).first();

/** Home page → sign in → change the one-time password → back on the home page. */
async function firstSignIn(username: string): Promise<Page> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'], viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => process.stderr.write(`[${username} page error] ${err.message}\n`));
  await page.goto(`${server.url}/`);
  await page.getByTestId('signed-out').waitFor({ timeout: 20_000 });
  await page.getByTestId('sign-in').click();
  await page.waitForURL(/\/login\?next=%2F$/);
  await input(page, 'data-test="username"').fill(username);
  await input(page, 'data-test="password"').fill(passwords.get(username)!);
  await page.locator('[data-test="submit"]').click();
  // The first sign-in asks for a new password before anything else.
  await input(page, 'data-test="new-password"').waitFor({ timeout: 10_000 });
  await input(page, 'data-test="password"').fill(passwords.get(username)!);
  await input(page, 'data-test="new-password"').fill('A new password of my own 42');
  await page.locator('[data-test="submit"]').click();
  await page.getByTestId('my-sessions').waitFor({ timeout: 20_000 });
  expect(server.accounts.store.userByName(username)!.mustChangePassword).toBe(false);
  return page;
}

/** Home page → sign in → change the one-time password → home page → "My sessions" → join. */
async function newcomer(username: string): Promise<Page> {
  const page = await firstSignIn(username);
  const join = page.locator(`[data-testid="join-booking"][href="/session?booking=${day.live}"]`);
  await join.waitFor({ timeout: 20_000 });
  // Only the live booking has a join button: the later one says when it opens.
  await expect(page.getByTestId('join-booking').count()).resolves.toBe(1);
  await join.click();
  await page.waitForURL(/\/session\?booking=/);
  await page.waitForFunction(() => window.__pleaSession?.state().joined === true, undefined, { timeout: 30_000 });
  return page;
}

interface Received { frames: number; audioPackets: number }
async function byRole(page: Page): Promise<Record<string, Received>> {
  const out: Record<string, Received> = {};
  for (const r of await page.evaluate(() => window.__pleaSession!.remoteStats())) {
    const o = (out[r.role] ??= { frames: 0, audioPackets: 0 });
    o.frames += r.framesDecoded;
    if (r.kind === 'audio') o.audioPackets += r.packetsReceived;
  }
  return out;
}

describe("the newcomer's three-way session in the demo", () => {
  it('the prosecutor and the duty lawyer sign in, join the live booking from "My sessions" and meet the room', async () => {
    await waitFor('room agent publishing in the live booking', () => (server.registry.forBooking(day.live!)?.partyList().find((p) => p.role === 'room')?.producerEntries().length ?? 0) === 2, 30_000);
    pages.prosecutor = await newcomer('prosecutor1');
    pages.lawyer = await newcomer('dutylawyer1');
    const session = server.registry.forBooking(day.live!)!;
    const parties = session.partyList().map((p) => [p.role, p.displayName]).sort();
    expect(parties).toEqual([['lawyer', '值班律师 陈静'], ['prosecutor', '检察官 王明'], ['room', session.room.name]]);
    const expected = { prosecutor: ['room', 'lawyer'], lawyer: ['room', 'prosecutor'] } as const;
    for (const role of ['prosecutor', 'lawyer'] as const) {
      const first = await waitFor(`${role} receiving both parties`, async () => {
        const s = await byRole(pages[role]!);
        return expected[role].every((r) => (s[r]?.frames ?? 0) > 5 && (s[r]?.audioPackets ?? 0) > 50) ? s : null;
      }, 40_000);
      await new Promise((r) => setTimeout(r, 1500));
      const later = await byRole(pages[role]!);
      for (const r of expected[role]) {
        expect(later[r]!.frames, `${role} decodes ${r} video`).toBeGreaterThan(first[r]!.frames);
        expect(later[r]!.audioPackets, `${role} receives ${r} audio`).toBeGreaterThan(first[r]!.audioPackets + 25);
      }
    }
  });

  it("the department's head lets a colleague stand in from the home page: the colleague then finds the booking and joins it; revoked, it is gone", async () => {
    const head = await firstSignIn('prosecutor2');
    await head.getByTestId('allowances').waitFor({ timeout: 20_000 });
    await head.getByTestId('allowance-grantee').click();
    await head.locator('.el-select-dropdown__item', { hasText: '检察官 赵强' }).click();
    await head.getByTestId('allowance-grant').click();
    await head.locator('[data-testid="allowance-row"][data-grantee="demo-prosecutor-3"][data-in-force="true"]').waitFor({ timeout: 10_000 });
    const stored = server.departments.listFor({ kind: 'user', userId: 'demo-prosecutor-2', username: 'prosecutor2', displayName: '', organisationId: 'site-dept-1', roles: ['prosecutor'], loginSessionId: '', mustChangePassword: false });
    expect(stored.allowances.filter((a) => a.inForce).map((a) => [a.granteeId, a.grantedBy])).toEqual([['demo-prosecutor-3', 'demo-prosecutor-2']]);

    const standIn = await newcomer('prosecutor3');
    const session = server.registry.forBooking(day.live!)!;
    await waitFor('stand-in in the session', () => session.partyList().some((p) => p.role === 'prosecutor' && p.displayName === '检察官 赵强'));
    await standIn.context().close();

    await head.getByTestId('allowance-revoke-demo-prosecutor-3').click();
    await head.locator('[data-testid="allowance-row"][data-grantee="demo-prosecutor-3"][data-in-force="false"]').waitFor({ timeout: 10_000 });
    const p3 = { kind: 'user' as const, userId: 'demo-prosecutor-3', username: 'prosecutor3', displayName: '检察官 赵强', organisationId: 'site-dept-1', roles: ['prosecutor' as const], loginSessionId: '', mustChangePassword: false };
    expect(server.departments.allowanceFor(p3, 'demo-prosecutor-1', new Date(clock.nowMs()))).toBeNull();
    await head.context().close();
  });
});
