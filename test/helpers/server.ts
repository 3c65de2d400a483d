// A real server for tests: 127.0.0.1 only, port 0, a fresh data directory.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/app.js';
import { createRootLogger } from '../../server/logger.js';
import type { SiteClock } from '../../server/schedule/site-clock.js';

export interface TestServerOptions {
  rooms?: number;
  dataDir?: string;
  port?: number;
  standingSessions?: boolean;
  overrides?: Record<string, unknown>;
  /** The site's wall clock (default: the real one). */
  clock?: SiteClock;
  /** How often live signed-in sockets are re-checked (default 15 s). */
  recheckSeconds?: number;
}

export function testConfig(options: TestServerOptions = {}): Config {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'plea-test-'));
  const base = loadConfig({ env: {} });
  const rooms = base.site.rooms.slice(0, options.rooms ?? 2);
  return loadConfig({
    env: {},
    overrides: {
      site: { ...base.site, rooms },
      http: { host: '127.0.0.1', port: options.port ?? 0, publicUrl: '' },
      media: { ...base.media, workers: 1, listenIp: '127.0.0.1', announcedAddress: '', plainListenIp: '127.0.0.1' },
      dataDir,
      logLevel: process.env['PLEA_TEST_LOG'] ?? 'warn',
      demo: { syntheticAgents: false, standingSessions: options.standingSessions ?? true },
      // Test machines are small: a reserve of their own, so only the disk-reserve test meets it.
      recording: { ...base.recording, diskReserveMiB: 256, diskStopMiB: 64 },
      ...options.overrides,
    },
  });
}

export async function startTestServer(options: TestServerOptions = {}): Promise<RunningServer & { cleanup(): Promise<void> }> {
  const config = testConfig(options);
  const server = await startServer(config, createRootLogger(config.logLevel), { ...(options.clock ? { clock: options.clock } : {}), ...(options.recheckSeconds ? { recheckSeconds: options.recheckSeconds } : {}) });
  return Object.assign(server, {
    async cleanup() {
      await server.close();
      if (!options.dataDir) rmSync(config.dataDir, { recursive: true, force: true });
    },
  });
}

/** Polls until `fn` returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 20_000, everyMs = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
