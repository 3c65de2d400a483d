// The staff day board in headless Chromium: a booking created on one open board
// appears on a second open board without a reload; a clash is shown before saving;
// staff sign in through /login and the board acts as them.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor } from './helpers/server.js';
import { launchBrowser } from './helpers/browser.js';
import { bookingRequest, call, workday } from './helpers/http.js';
import { signInThroughLoginPage, staffOf } from './helpers/staff.js';
import { makeUser, signIn, type TestUser } from './helpers/accounts.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const DATE = workday(); // Monday–Friday: working windows 09:00–11:00 and 14:00–16:00
let server: Server;
let browser: Browser;

beforeAll(async () => {
  server = await startTestServer({ rooms: 10, standingSessions: false });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.cleanup();
});

/** A board in a browser of its own, its member of staff signed in through /login (default: the file's one). */
async function openBoard(who?: TestUser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => process.stderr.write(`[board page error] ${err.message}\n`));
  await page.goto(`${server.url}/staff?date=${DATE}`);
  await signInThroughLoginPage(page, who ?? (await staffOf(server)).user);
  await page.waitForFunction((d) => window.__pleaBoard?.date === d && window.__pleaBoard.loads > 0, DATE, { timeout: 20_000 });
  return page;
}

async function fill(page: Page, field: string, value: string): Promise<void> {
  await page.locator(`input[data-testid="field-${field}"], [data-testid="field-${field}"] input`).first().fill(value);
}

describe('staff board', () => {
  it('shows a booking made on one board on a second open board, without reload', async () => {
    const [a, b] = [await openBoard(), await openBoard()];
    const loadsBefore = await b.evaluate(() => window.__pleaBoard!.loads);

    await a.getByTestId('new-booking-button').click();
    await a.getByTestId('booking-form').waitFor();
    await fill(a, 'caseNumber', 'UI-2026-7');
    await fill(a, 'detaineeId', 'UI-D-7');
    await fill(a, 'procuratorateId', 'district-01');
    await fill(a, 'prosecutorId', 'UI-P-7');
    await a.getByTestId('field-lawyerRole-defence').click();
    await fill(a, 'lawyerId', 'UI-L-7');
    await fill(a, 'date', DATE);
    await fill(a, 'start', '09:33');
    await fill(a, 'durationMin', '12');
    await a.getByTestId('check-fits').waitFor({ timeout: 10_000 });
    await a.getByTestId('booking-save').click();

    const id = await waitFor('booking stored', () => server.schedule.store.rows(DATE).find((r) => r.case_number === 'UI-2026-7')?.id);
    await b.waitForFunction((bid) => window.__pleaBoard!.bookingIds().includes(bid), id, { timeout: 15_000 });
    expect(await b.evaluate(() => window.__pleaBoard!.loads)).toBeGreaterThan(loadsBefore);
    await expect(b.locator(`[data-testid="booking-block"][data-id="${id}"]`).count()).resolves.toBe(1);
  });

  it('shows the clash and alternatives before saving', async () => {
    const taken = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: DATE, caseNumber: 'UI-8', detaineeId: 'UI-D-8', prosecutorId: 'UI-P-8', lawyerId: 'UI-L-8', requestedStart: 603 }), await staffOf(server));
    expect(taken.status).toBe(201);
    const page = await openBoard();
    await page.getByTestId('new-booking-button').click();
    await fill(page, 'caseNumber', 'UI-9');
    await fill(page, 'detaineeId', 'UI-D-8');
    await fill(page, 'procuratorateId', 'district-01');
    await fill(page, 'prosecutorId', 'UI-P-9');
    await page.getByTestId('field-lawyerRole-defence').click();
    await fill(page, 'lawyerId', 'UI-L-9');
    await fill(page, 'date', DATE);
    await fill(page, 'start', '10:03');
    const conflict = page.getByTestId('conflict-message');
    await conflict.waitFor({ timeout: 10_000 });
    expect(await conflict.getAttribute('data-reason')).toBe('detainee_busy');
    expect(await page.getByTestId('alternative').count()).toBeGreaterThan(0);
    expect(server.schedule.store.rows(DATE).some((r) => r.case_number === 'UI-9')).toBe(false);
  });

  it('asks before taking a room with live bookings out of service, then moves them; flags what could not stay as it was', async () => {
    const key = await staffOf(server);
    const live = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: DATE, caseNumber: 'UI-10', detaineeId: 'UI-D-10', prosecutorId: 'UI-P-10', lawyerId: 'UI-L-10', requestedStart: 903, roomId: 'plea-4' }), key);
    expect(live.status).toBe(201);
    // A duty booking whose lawyer's shift is removed (applied): it stays, flagged.
    const shift = await call(server.url, 'POST', '/api/roster', { lawyerId: 'UI-duty', date: DATE, start: 840, end: 960 }, key);
    const duty = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: DATE, caseNumber: 'UI-11', detaineeId: 'UI-D-11', prosecutorId: 'UI-P-11', lawyerRole: 'duty', lawyerId: 'UI-duty', requestedStart: 933 }), key);
    expect(duty.status).toBe(201);
    expect((await call(server.url, 'DELETE', `/api/roster/${String(shift.body['id'])}?affected=apply`, undefined, key)).status).toBe(200);

    const page = await openBoard();
    await page.locator(`[data-testid="booking-block"][data-id="${String(duty.body['id'])}"] [data-testid="booking-flag"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator(`[data-testid="booking-block"][data-id="${String(duty.body['id'])}"]`).getAttribute('data-attention')).toBe('lawyer_not_on_duty');

    await page.locator('[data-testid="room-status-toggle"][data-room="plea-4"]').click();
    await page.locator('.el-message-box__btns .el-button--primary').click(); // take it out of service
    // The server refused with the affected booking: the board names it and offers the choice.
    const box = page.locator('.el-message-box', { hasText: String(live.body['id']) });
    await box.waitFor({ timeout: 10_000 });
    expect(server.schedule.store.roomStatuses().get('plea-4')).toBe('active');
    await box.locator('.el-button--primary').click(); // apply: move or flag
    await waitFor('room out of service', () => server.schedule.store.roomStatuses().get('plea-4') === 'out_of_service');
    const moved = server.schedule.store.row(String(live.body['id']));
    expect(moved?.room_id).not.toBe('plea-4');
    expect(server.schedule.store.noticesOf(String(live.body['id'])).some((n) => n.recipient === 'prosecutor:UI-P-10')).toBe(true);
    await call(server.url, 'PUT', '/api/rooms/plea-4/status', { status: 'active' }, key);
  });

  it('a signed-out board goes to /login and back; what it does is its member of staff\'s in the audit trail and the history; logging out everywhere ends its socket and sends it to /login', async () => {
    const li = await makeUser(server, ['detention_staff'], { username: 'staff-li', displayName: '李看守' });
    // openBoard goes to /staff signed out: the page sends itself to /login?next=…, which sends it back.
    const page = await openBoard(li);
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe(`/staff?date=${DATE}`);
    expect(await page.getByTestId('signed-in-as').getAttribute('data-username')).toBe('staff-li');
    const boardsOfLi = () => [...server.signalling.io.sockets.sockets.values()].filter((s) => s.data.kind === 'board' && s.data.principal.username === 'staff-li').length;
    await waitFor('the board socket of staff-li', () => boardsOfLi() === 1);

    // A change on the board: a booking through the form (REST writes with the login session's CSRF token).
    await page.getByTestId('new-booking-button').click();
    await page.getByTestId('booking-form').waitFor();
    await fill(page, 'caseNumber', 'UI-LI-1');
    await fill(page, 'detaineeId', 'UI-D-LI');
    await fill(page, 'procuratorateId', 'district-01');
    await fill(page, 'prosecutorId', 'UI-P-LI');
    await page.getByTestId('field-lawyerRole-defence').click();
    await fill(page, 'lawyerId', 'UI-L-LI');
    await fill(page, 'date', DATE);
    await fill(page, 'start', '14:18');
    await fill(page, 'durationMin', '12');
    await page.getByTestId('check-fits').waitFor({ timeout: 10_000 });
    await page.getByTestId('booking-save').click();
    const id = await waitFor('booking stored', () => server.schedule.store.rows(DATE).find((r) => r.case_number === 'UI-LI-1')?.id);
    expect(server.audit.recent(200).find((e) => e.action === 'booking.created' && e.subject === `booking:${id}`)?.actor).toBe('user:staff-li');
    const detail = await call<{ history: Array<{ actor: string; action: string }> }>(server.url, 'GET', `/api/bookings/${id}`, undefined, await staffOf(server));
    expect(detail.body.history).toMatchObject([{ action: 'created', actor: 'user:staff-li' }]);

    // Logged out everywhere from another device: the server ends this board's socket, its next handshake is refused, and the page goes to /login.
    const elsewhere = await signIn(server, li);
    expect((await elsewhere.call('POST', '/api/auth/logout-everywhere')).status).toBe(200);
    await page.waitForURL((u) => u.pathname === '/login', { timeout: 20_000 });
    expect(new URL(page.url()).searchParams.get('next')).toBe(`/staff?date=${DATE}`);
    expect(boardsOfLi()).toBe(0);
    // …and signing in again comes back to the board.
    await signInThroughLoginPage(page, li);
    await page.waitForFunction((d) => window.__pleaBoard?.date === d && window.__pleaBoard.loads > 0, DATE, { timeout: 20_000 });
    await page.context().close();
  });

  it('signing in at /login with no page asked for lands each person on their own page: staff on the board, a clerk on the evidence page', async () => {
    for (const [roles, landing] of [[['detention_staff'], '/staff'], [['evidence_clerk'], '/evidence'], [['prosecutor'], '/']] as const) {
      const who = await makeUser(server, [...roles]);
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${server.url}/login`);
      await signInThroughLoginPage(page, who);
      expect(new URL(page.url()).pathname, roles.join()).toBe(landing);
      await context.close();
    }
  });
});

describe('the booking drawer', () => {
  it("shows the booking's guest links by state, never a join link or a secret, and revokes one", async () => {
    const staff = await staffOf(server);
    const prosecutor = await signIn(server, await makeUser(server, ['prosecutor'], { id: 'UI-P-G' }));
    const made = await call<{ id: string }>(server.url, 'POST', '/api/bookings', bookingRequest({ date: DATE, requestedStart: 600, caseNumber: 'UI-G-1', detaineeId: 'UI-D-G', prosecutorId: 'UI-P-G', lawyerId: 'UI-L-G', roomId: 'plea-4' }), staff);
    expect(made.status).toBe(201);
    const issued = await prosecutor.call<{ link: { id: string }; url: string; code: string }>('POST', `/api/bookings/${made.body.id}/guest-links`, { role: 'defence_lawyer', guestName: '辩护律师 抽屉' });
    expect(issued.status).toBe(201);
    const page = await openBoard();
    await page.locator(`[data-testid="booking-block"][data-id="${made.body.id}"]`).click();
    const drawer = page.getByTestId('booking-drawer');
    const row = drawer.locator(`[data-testid="guest-link-${issued.body.link.id}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await row.getAttribute('data-state')).toBe('issued');
    const text = (await drawer.textContent()) ?? '';
    expect(text).toContain('辩护律师 抽屉');
    expect(text).not.toContain(new URL(issued.body.url).hash.slice(1));
    expect(await drawer.locator('input').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value).filter((v) => /guest#|session\?token=/.test(v)))).toEqual([]);
    // Staff issue none: the drawer offers no issuing.
    expect(await drawer.getByTestId('guest-issue').count()).toBe(0);
    await row.getByTestId('guest-link-revoke').click();
    await page.locator('.el-message-box__btns .el-button--primary').click();
    await waitFor('revoked', () => server.guestLinks.current(issued.body.link.id)?.state === 'revoked', 10_000, 100);
    await page.waitForFunction((id) => document.querySelector(`[data-testid="guest-link-${id}"]`)?.getAttribute('data-state') === 'revoked', issued.body.link.id, { timeout: 10_000 });
    await page.context().close();
  });
});
