// Headless Chromium from Debian, driven by playwright-core, with fake camera and
// microphone. Never a browser download.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export function chromiumArgs(extra: string[] = []): string[] {
  return [
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection',
    '--autoplay-policy=no-user-gesture-required',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    ...extra,
  ];
}

export async function launchBrowser(extra: string[] = []): Promise<Browser> {
  if (!existsSync(chromiumPath)) throw new Error(`Chromium not found at ${chromiumPath}: run "npm run setup" as root (installs Debian's chromium)`);
  // launch() gives every browser a fresh, temporary profile directory.
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs(extra) });
}

/**
 * Opens a page in its own context (its own fake devices and storage); `cookie` ("name=value", e.g. a signed-in
 * person's session) goes with it; `prepare` runs on the context before the page opens (e.g. an init script).
 */
export async function openSessionPage(browser: Browser, url: string, cookie?: string, prepare?: (context: BrowserContext) => Promise<void>): Promise<Page> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'], viewport: { width: 1366, height: 768 } });
  if (cookie) {
    const at = cookie.indexOf('=');
    await context.addCookies([{ name: cookie.slice(0, at), value: cookie.slice(at + 1), url: new URL(url).origin }]);
  }
  await prepare?.(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => process.stderr.write(`[page error] ${err.message}\n`));
  await page.goto(url);
  await page.waitForFunction(() => window.__pleaSession !== undefined, undefined, { timeout: 20_000 });
  return page;
}
