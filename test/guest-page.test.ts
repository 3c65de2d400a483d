// The guest's pages in headless Chromium: a defence lawyer without an account
// opens the link the prosecutor sent (/guest#secret), types the code told
// separately, enters the session as the booked guest; a second device with the
// same link and code is refused; the session page shows a countdown banner when
// the server says the party's window has ended; when staff revoke the link, the
// page says so.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { bookingRequest } from './helpers/http.js';
import { launchBrowser } from './helpers/browser.js';
import { makeUser, signIn, type SignedIn } from './helpers/accounts.js';
import { issueGuestLink, type IssuedLink } from './helpers/guests.js';
import { SiteClock } from '../server/schedule/site-clock.js';
import { loadConfig } from '../server/config.js';

const base = loadConfig({ env: {} });
const allDay = ['00:00-24:00'];
const overrides = { schedule: { ...base.schedule, weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } } };
const today = new SiteClock(base.site.timeZone).local().date;
const offsetMs = new SiteClock(base.site.timeZone).toEpochMs(today, 10 * 60) - Date.now();
const clock = new SiteClock(base.site.timeZone, () => Date.now() + offsetMs);

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let browser: Browser;
let bookingId: string;
let prosecutor: SignedIn;
let staff: SignedIn;
let link: IssuedLink;
const contexts: BrowserContext[] = [];

async function device(): Promise<Page> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'], viewport: { width: 1280, height: 800 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => process.stderr.write(`[page error] ${err.message}\n`));
  return page;
}

async function enterCode(page: Page, code: string): Promise<void> {
  await page.locator('input[data-testid="guest-code"]').fill(code);
  await page.locator('[data-testid="guest-submit"]').click();
}

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false, overrides, clock });
  prosecutor = await signIn(server, await makeUser(server, ['prosecutor'], { id: 'P-GP1' }));
  staff = await signIn(server, await makeUser(server, ['detention_staff']));
  const now = clock.local();
  const made = await staff.call('POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: Math.ceil((now.minute + 10) / 5) * 5, prosecutorId: 'P-GP1', lawyerRole: 'defence', lawyerId: 'L-GP1', roomId: 'plea-1' }));
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  bookingId = String(made.body['id']);
  expect((await staff.call('POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' })).status).toBe(200);
  await waitFor('session open', () => server.registry.forBooking(bookingId));
  link = await issueGuestLink(prosecutor, bookingId, 'defence_lawyer', '辩护律师 陈某');
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await server?.cleanup();
});

const guestParty = () => server.registry.forBooking(bookingId)?.partyList().find((p) => p.identity.personKey === `guest:${link.linkId}`);

describe('the guest page and the session page of a guest', () => {
  let guestPage: Page;

  it('a wrong code is refused with tries left; the right one binds this device and the guest enters under the booked name', async () => {
    guestPage = await device();
    await guestPage.goto(link.url);
    await enterCode(guestPage, link.code === '111111' ? '222222' : '111111');
    await expect.poll(() => guestPage.locator('[data-testid="guest-error"]').textContent(), { timeout: 10_000 }).toMatch(/验证码错误/);
    await enterCode(guestPage, link.code);
    await guestPage.locator('[data-testid="guest-who"]').waitFor({ timeout: 10_000 });
    expect(await guestPage.locator('[data-testid="guest-who"]').textContent()).toContain('辩护律师 陈某');
    // The secret has left the address bar once the device holds the link.
    expect(new URL(guestPage.url()).hash).toBe('');
    await guestPage.locator('[data-testid="guest-join"]').click();
    await guestPage.waitForURL(/\/session\?guest=1/);
    await guestPage.waitForFunction(() => window.__pleaSession?.state().joined === true, undefined, { timeout: 30_000 });
    const party = await waitFor('guest party', () => guestParty(), 10_000, 100);
    expect([party.role, party.displayName]).toEqual(['lawyer', '辩护律师 陈某']);
  }, 60_000);

  it('a second device with the same link and code is refused while the first holds it', async () => {
    const other = await device();
    await other.goto(link.url);
    await enterCode(other, link.code);
    await expect.poll(() => other.locator('[data-testid="guest-error"]').textContent(), { timeout: 10_000 }).toMatch(/另一台设备/);
    expect((await other.context().cookies()).some((c) => c.name === 'plea_guest')).toBe(false);
  }, 30_000);

  it("shows a countdown banner when the server says the party's window has ended", async () => {
    expect(await guestPage.locator('[data-testid="window-ending"]').count()).toBe(0);
    // The session's own notice (Party.windowEnding, as its timer calls it at the window's end), 90 s before removal.
    guestParty()!.windowEnding(new Date(Date.now() + 90_000));
    const banner = guestPage.locator('[data-testid="window-ending"]');
    await banner.waitFor({ timeout: 10_000 });
    const first = Number(await banner.getAttribute('data-seconds'));
    expect(first).toBeGreaterThan(80);
    expect(first).toBeLessThanOrEqual(91); // the page's clock ticks each second
    expect(await guestPage.locator('[data-testid="window-ending-countdown"]').textContent()).toMatch(/剩余 1:[23]\d/);
    // It counts down.
    await expect.poll(async () => Number(await banner.getAttribute('data-seconds')), { timeout: 5000 }).toBeLessThan(first);
  }, 30_000);

  it('staff see the link bound and live (never its secret), revoke it, and the guest is removed and told why', async () => {
    // What the staff board's drawer panel is answered.
    const list = await staff.call<{ links: Array<{ id: string; state: string; live: boolean }> }>('GET', `/api/bookings/${bookingId}/guest-links`);
    expect(list.body.links.find((l) => l.id === link.linkId)).toMatchObject({ state: 'bound', live: true });
    expect(JSON.stringify(list.body)).not.toContain(link.secret);
    expect((await staff.call('POST', `/api/bookings/${bookingId}/guest-links/${link.linkId}/revoke`)).status).toBe(200);
    await waitFor('guest removed', () => !guestParty(), 10_000, 100);
    await guestPage.locator('[data-testid="session-result"][data-result="removed"]').waitFor({ timeout: 10_000 });
    expect(await guestPage.locator('[data-testid="session-result"]').textContent()).toContain('来宾链接已被撤销');
  }, 30_000);
});

describe("the prosecutor's guest links on the home page", () => {
  it("issues a link from 'my sessions': the link and the code are shown once, and they redeem", async () => {
    const page = await device();
    const at = prosecutor.cookie.indexOf('=');
    await page.context().addCookies([{ name: prosecutor.cookie.slice(0, at), value: prosecutor.cookie.slice(at + 1), url: server.url }]);
    await page.goto(`${server.url}/`);
    await page.getByTestId('my-sessions').getByTestId('open-guest-links').first().click();
    await page.locator('input[data-testid="guest-issue-name"]').fill('辩护律师 首页');
    await page.getByTestId('guest-issue').click();
    const url = await page.locator('input[data-testid="guest-issued-url"]').inputValue({ timeout: 10_000 });
    const code = ((await page.getByTestId('guest-issued-code').textContent()) ?? '').trim();
    expect(url).toMatch(/\/guest#[A-Za-z0-9_-]{43}$/);
    expect(code).toMatch(/^\d{6}$/);
    const row = server.db.prepare("SELECT booking_id, issued_by FROM guest_links WHERE guest_name = '辩护律师 首页'").get() as { booking_id: string; issued_by: string };
    expect(row).toEqual({ booking_id: bookingId, issued_by: `user:${prosecutor.user.username}` });
    // The link lists as issued, and what was shown redeems.
    await page.locator('[data-testid^="guest-link-"][data-state="issued"]').first().waitFor({ timeout: 10_000 });
    const res = await fetch(`${server.url}/api/guest/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ secret: new URL(url).hash.slice(1), code }) });
    expect(res.status).toBe(200);
  }, 60_000);
});
