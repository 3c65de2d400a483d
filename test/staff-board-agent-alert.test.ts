// A refused room-agent connection (a second one with a live agent's credential)
// is raised on the staff board in headless Chromium: a notification that stays
// until closed and an alert on the board, in Chinese by default, naming the
// room and the address it came from.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { launchBrowser } from './helpers/browser.js';
import { connect } from './helpers/client.js';
import { staffOf } from './helpers/staff.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let browser: Browser;

beforeAll(async () => {
  server = await startTestServer({ rooms: 1, standingSessions: false });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.cleanup();
});

async function openBoard(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  // A signed-in member of staff (the session cookie).
  const cookie = (await staffOf(server)).cookie;
  const at = cookie.indexOf('=');
  await context.addCookies([{ name: cookie.slice(0, at), value: cookie.slice(at + 1), url: server.url }]);
  const page = await context.newPage();
  page.on('pageerror', (err) => process.stderr.write(`[board page error] ${err.message}\n`));
  await page.goto(`${server.url}/staff`);
  await page.waitForFunction(() => (window.__pleaBoard?.loads ?? 0) > 0, undefined, { timeout: 20_000 });
  await page.locator('[data-testid="feed-state"][data-state="connected"]').waitFor({ timeout: 20_000 });
  return page;
}

describe('staff board: room agent alerts', () => {
  it('shows a refused second connection with the room agent credential, with the room and the address', async () => {
    const room = server.config.site.rooms[0]!;
    const page = await openBoard();
    const credential = server.secrets.agentCredentials[room.id]!;
    const live = await connect(server.url, { kind: 'agent', roomId: room.id, credential });
    try {
      await expect(connect(server.url, { kind: 'agent', roomId: room.id, credential })).rejects.toThrow(/already has a connected agent/);
      const alert = page.locator(`[data-testid="agent-alert"][data-room="${room.id}"][data-reason="second_connection"]`);
      await alert.waitFor({ timeout: 15_000 });
      const text = await alert.innerText();
      expect(text).toContain(room.name);
      expect(text).toContain('127.0.0.1');
      expect(text).toContain('已拒绝');
      // The notification stays on screen (no timeout) until staff close it.
      const note = page.locator('.agent-alert-notification');
      await note.waitFor({ timeout: 5000 });
      await page.waitForTimeout(5000);
      expect(await note.isVisible()).toBe(true);
    } finally {
      live.close();
      await page.context().close();
    }
  }, 90_000);
});
