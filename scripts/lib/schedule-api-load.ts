/**
 * The schedule API under load: a real server process (its own SQLite file in a temporary data
 * directory, one media worker, 127.0.0.1 only) and 8 concurrent staff clients sending mixed
 * operations over two days: creates with clashing detainees, prosecutors and lawyers, moves,
 * cancels, no-shows, live-status steps (in room opens a media session, finished closes it),
 * overruns, day reads. Server-side times are Fastify's own `responseTime` of each request, read
 * from the server's log; the clients share the machine's cores with the server.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../server/config.js';
import { seedStaffAccount, signInAt } from '../../test/helpers/staff.js';
import type { SignedIn } from '../../test/helpers/accounts.js';

export interface ApiLoadResult {
  clients: number;
  requests: number;
  seconds: number;
  apiOpsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  clientP95Ms: number;
  byStatus: Record<string, number>;
  byOperation: Record<string, number>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function siteDate(offset: number): string {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  const [y, m, d] = today.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + offset)).toISOString().slice(0, 10);
}

export async function scheduleApiLoad(options: { requests: number; clients: number; seed: number; repoRoot: string }): Promise<ApiLoadResult> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-bench-api-'));
  const allDay = ['00:00-24:00'];
  const configFile = path.join(dataDir, 'bench-config.json');
  // Working windows all day so that today's bookings can go "in room" whatever the hour.
  writeFileSync(configFile, JSON.stringify({ schedule: { weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } } }));
  // The clients are members of detention-centre staff, each with an account, signed in once the server is up.
  const benchConfig = loadConfig({ env: { PLEA_CONFIG: configFile, PLEA_DATA_DIR: dataDir } });
  const staffAccounts: Array<{ username: string; password: string }> = [];
  for (let i = 0; i < options.clients; i++) staffAccounts.push(await seedStaffAccount(benchConfig, `staff-bench-${i}`));
  const port = await freePort();
  const rtc = 44000 + Math.floor(Math.random() * 400) * 2;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: options.repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      PLEA_CONFIG: configFile,
      PLEA_DATA_DIR: dataDir,
      PLEA_HOST: '127.0.0.1',
      PLEA_PORT: String(port),
      PLEA_WORKERS: '1',
      PLEA_RTC_MIN_PORT: String(rtc),
      PLEA_RTC_MAX_PORT: String(rtc + 199),
      PLEA_SYNTHETIC_AGENTS: '0',
      PLEA_STANDING_SESSIONS: '0',
      PLEA_LOG_LEVEL: 'info',
    },
  });
  const serverTimes: number[] = [];
  const lines = createInterface({ input: proc.stdout! });
  lines.on('line', (line) => {
    if (!line.includes('"responseTime"')) return;
    try {
      const e = JSON.parse(line) as { responseTime?: number; req?: { url?: string }; msg?: string };
      if (e.msg === 'request completed' && typeof e.responseTime === 'number' && !(e.req?.url ?? '').startsWith('/api/health')) serverTimes.push(e.responseTime);
    } catch {
      /* not a log line */
    }
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/api/health`)).ok) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error('bench server did not start within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const people = await Promise.all(staffAccounts.map((who) => signInAt(url, who)));
    serverTimes.length = 0;

    const byStatus: Record<string, number> = {};
    const byOperation: Record<string, number> = {};
    const clientTimes: number[] = [];
    const ids: string[] = [];
    const dates = [siteDate(0), siteDate(1)];
    const rooms = ['interrogation-1', 'interrogation-2', 'interrogation-3', 'interrogation-4', 'interrogation-5', 'interrogation-6', 'plea-1', 'plea-2', 'plea-3', 'plea-4'];
    let sent = 0;
    const callAs = (who: SignedIn) => async (op: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
      sent++;
      const t0 = performance.now();
      const res = await fetch(`${url}${p}`, {
        method,
        headers: { ...who.headers(method !== 'GET'), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? null : JSON.stringify(body),
      });
      const text = await res.text();
      clientTimes.push(performance.now() - t0);
      const cls = `${Math.floor(res.status / 100)}xx`;
      byStatus[cls] = (byStatus[cls] ?? 0) + 1;
      byOperation[op] = (byOperation[op] ?? 0) + 1;
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };
    const client = async (n: number): Promise<void> => {
      const rand = rng(options.seed + n);
      const call = callAs(people[n] as SignedIn);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
      while (sent < options.requests) {
        const x = rand();
        const id = ids.length ? ids[Math.max(0, ids.length - 1 - Math.floor(rand() * 20))] : undefined;
        if (x < 0.35 || id === undefined) {
          const res = await call('create', 'POST', '/api/bookings', {
            caseNumber: `(2026) B-${n}-${sent}`,
            detaineeId: `D-${Math.floor(rand() * 60)}`,
            procuratorateId: 'district',
            priorityClass: pick(['district', 'district', 'district', 'district', 'sibling', 'higher'] as const),
            prosecutorId: `P-${Math.floor(rand() * 20)}`,
            lawyerRole: 'defence',
            lawyerId: `L-${Math.floor(rand() * 25)}`,
            sessionKind: pick(['plea_hearing', 'arraignment', 'bail_hearing'] as const),
            date: pick(dates),
            requestedStart: 5 * Math.floor(rand() * 270) + 30,
            durationMin: pick([8, 10, 12, 14, 18]),
          });
          if (res.status === 201) ids.push(String(res.body['id']));
        } else if (x < 0.5) {
          await call('move', 'POST', `/api/bookings/${id}/move`, { start: 5 * Math.floor(rand() * 270) + 30, ...(rand() < 0.3 ? { roomId: pick(rooms) } : {}) });
        } else if (x < 0.58) {
          await call('cancel', 'POST', `/api/bookings/${id}/cancel`, {});
        } else if (x < 0.63) {
          await call('no_show', 'POST', `/api/bookings/${id}/no-show`, {});
        } else if (x < 0.83) {
          await call('status', 'POST', `/api/bookings/${id}/status`, { status: pick(['escorting', 'in_room', 'in_room', 'finished'] as const) });
        } else if (x < 0.88) {
          await call('overrun', 'POST', `/api/bookings/${id}/overrun`, { newEnd: 5 * Math.floor(rand() * 270) + 40 });
        } else {
          await call('day', 'GET', `/api/schedule/day?date=${pick(dates)}`);
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
    const seconds = (performance.now() - t0) / 1000;
    // The last log lines may still be on their way.
    for (let i = 0; i < 20 && serverTimes.length < sent; i++) await new Promise((r) => setTimeout(r, 50));
    const sortedServer = [...serverTimes].sort((a, b) => a - b);
    const sortedClient = [...clientTimes].sort((a, b) => a - b);
    const r2 = (v: number) => Math.round(v * 100) / 100;
    return {
      clients: options.clients,
      requests: sent,
      seconds: r2(seconds),
      apiOpsPerSecond: Math.round((10 * sent) / seconds) / 10,
      p50Ms: r2(quantile(sortedServer, 0.5)),
      p95Ms: r2(quantile(sortedServer, 0.95)),
      p99Ms: r2(quantile(sortedServer, 0.99)),
      clientP95Ms: r2(quantile(sortedClient, 0.95)),
      byStatus,
      byOperation,
    };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        r(undefined);
      }, 5000);
      proc.once('exit', () => {
        clearTimeout(timer);
        r(undefined);
      });
    });
    rmSync(dataDir, { recursive: true, force: true });
  }
}
