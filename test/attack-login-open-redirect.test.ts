// Attack: an open redirect through /login?next=… . The page allowed a `next`
// that starts with "/" but not "//" or "/\", and then handed it to
// location.assign; the URL parser drops tabs and newlines, so
// "/<TAB>/evil.example" became "//evil.example" and the person who had just
// signed in was sent off the site (a phishing page that looks like "sign in
// again"). In headless Chromium: evil.example is answered by the test itself
// (playwright routing), and after signing in the page must still be on the
// server's own origin, on its landing page.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { launchBrowser } from './helpers/browser.js';
import { signInThroughLoginPage } from './helpers/staff.js';
import { makeUser } from './helpers/accounts.js';
import { sameSitePath } from '../web/src/safe-next.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
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

const hostile = ['/\t/evil.example/phish', '/\n/evil.example/phish', '/\r\\evil.example/phish', '//evil.example/phish', '/\\evil.example/phish', 'https://evil.example/phish'];

describe('attack: /login?next= sends a signed-in person off the site', () => {
  it('the rule: only a path on this site, as the URL parser reads it', () => {
    for (const next of hostile) expect(sameSitePath(next, 'http://127.0.0.1:4000'), JSON.stringify(next)).toBeNull();
    expect(sameSitePath('/staff?date=2026-12-02#x', 'http://127.0.0.1:4000')).toBe('/staff?date=2026-12-02#x');
    expect(sameSitePath('/session?guest=1', 'http://127.0.0.1:4000')).toBe('/session?guest=1');
  });

  it('in the page: a tab or newline in next never leaves the site; a path on the site is still honoured', async () => {
    const who = await makeUser(server, ['detention_staff']);
    for (const next of [...hostile.slice(0, 3), '/evidence']) {
      const context = await browser.newContext();
      const offSite: string[] = [];
      await context.route(/^https?:\/\/evil\.example\//, async (route) => {
        offSite.push(route.request().url());
        await route.fulfill({ status: 200, contentType: 'text/html', body: '<title>phish</title>' });
      });
      const page = await context.newPage();
      await page.goto(`${server.url}/login?next=${encodeURIComponent(next)}`);
      await signInThroughLoginPage(page, who);
      const landed = new URL(page.url());
      expect(offSite, JSON.stringify(next)).toEqual([]);
      expect(landed.origin, JSON.stringify(next)).toBe(new URL(server.url).origin);
      expect(landed.pathname, JSON.stringify(next)).toBe(next === '/evidence' ? '/evidence' : '/staff');
      await context.close();
    }
  });
});
