// Two staff members booking the same room, detainee or lawyer at once can never
// both succeed: two server processes on one SQLite file take parallel requests;
// the database decides.
//
// The race is made real and shown: the test holds the database's write lock
// while it sends the requests, and waits until the main thread of EACH server
// process is seen asleep in SQLite's busy wait (Linux /proc/<pid>/wchan), i.e.
// both processes are inside their write transaction (BEGIN IMMEDIATE) at the
// same moment; no reply may come before the lock is let go. Then both contend
// for the lock; the one that gets it second reads the winner's booking inside
// its own write transaction and is refused with the reason.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeTcpPort } from './helpers/agent.js';
import { waitFor } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { openDatabase } from '../server/db/database.js';
import { seedStaffAccount, signInAt } from './helpers/staff.js';
import type { SignedIn } from './helpers/accounts.js';
import { loadConfig } from '../server/config.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-race-'));
const servers: Array<{ proc: ChildProcess; url: string }> = [];

async function startServerProcess(rtcMinPort: number): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freeTcpPort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      PLEA_DATA_DIR: dataDir,
      PLEA_HOST: '127.0.0.1',
      PLEA_PORT: String(port),
      PLEA_WORKERS: '1',
      PLEA_RTC_MIN_PORT: String(rtcMinPort),
      PLEA_RTC_MAX_PORT: String(rtcMinPort + 99),
      PLEA_SYNTHETIC_AGENTS: '0',
      PLEA_STANDING_SESSIONS: '0',
      PLEA_LOG_LEVEL: 'warn',
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('server process ready', async () => (await fetch(`${url}/api/health`)).ok, 30_000);
  return { proc, url };
}

let staff: SignedIn;
beforeAll(async () => {
  // Both servers share the data directory (accounts, login sessions, cookie key): one member of staff signs in once.
  const who = await seedStaffAccount(loadConfig({ env: { PLEA_DATA_DIR: dataDir } }));
  servers.push(await startServerProcess(41000));
  servers.push(await startServerProcess(41200));
  staff = await signInAt(servers[0]!.url, who);
});
afterAll(async () => {
  // Wait for both processes to exit: a server still stopping writes into the
  // data directory (WAL, audit heads) while it is being removed.
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.proc.exitCode !== null || s.proc.signalCode !== null) return resolve();
          const force = setTimeout(() => s.proc.kill('SIGKILL'), 10_000);
          s.proc.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          s.proc.kill('SIGTERM');
        })
    )
  );
  rmSync(dataDir, { recursive: true, force: true });
});

/** What the kernel says the main thread of `pid` waits in (e.g. do_epoll_wait when idle, hrtimer_nanosleep in SQLite's busy wait). */
function waitChannel(pid: number): string {
  return readFileSync(`/proc/${pid}/wchan`, 'utf8').trim();
}

interface RaceReply {
  server: number;
  status: number;
  reason: unknown;
  at: number;
}

interface RaceResult {
  replies: RaceReply[];
  /** Per server: seen waiting for the write lock while the test held it. */
  waited: boolean[];
  repliesBeforeRelease: number;
}

async function race(requests: Array<Record<string, unknown>>): Promise<RaceResult> {
  // Idle servers wait in epoll, not in a sleep: the probe tells the two apart.
  for (const s of servers) await waitFor('server idle', () => waitChannel(s.proc.pid!) !== 'hrtimer_nanosleep', 5_000, 20);

  const barrier = openDatabase(path.join(dataDir, 'plea.sqlite'));
  const replies: RaceReply[] = [];
  const waited = servers.map(() => false);
  let releasedAt = Infinity;
  let repliesBeforeRelease = 0;
  let pending: Promise<unknown>[] = [];
  barrier.exec('BEGIN IMMEDIATE');
  try {
    pending = requests.map(async (body, i) => {
      const server = i % 2;
      const r = await call(servers[server]!.url, 'POST', '/api/bookings', body, staff);
      replies.push({ server, status: r.status, reason: r.body['reason'], at: performance.now() });
    });
    // Both processes must be seen asleep in SQLite's busy wait at the same time (well inside its 5 s timeout).
    const deadline = performance.now() + 2_500;
    while (!waited.every(Boolean) && performance.now() < deadline) {
      servers.forEach((s, i) => {
        if (waitChannel(s.proc.pid!) === 'hrtimer_nanosleep') waited[i] = true;
      });
      await new Promise((r) => setTimeout(r, 5));
    }
    repliesBeforeRelease = replies.length;
  } finally {
    releasedAt = performance.now();
    barrier.exec('ROLLBACK');
    barrier.close();
  }
  await Promise.all(pending);
  expect(replies.every((r) => r.at >= releasedAt)).toBe(true);
  return { replies, waited, repliesBeforeRelease };
}

/** Exactly one booking; every other request was answered by its server after contending, with `reason`. */
function expectOneWinner(result: RaceResult, reason: string): void {
  const { replies, waited, repliesBeforeRelease } = result;
  // Both processes were inside their write at once, and none answered before the lock was let go.
  expect(waited).toEqual([true, true]);
  expect(repliesBeforeRelease).toBe(0);
  expect(replies).toHaveLength(20);
  expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
  const losers = replies.filter((r) => r.status !== 201);
  expect(losers.map((r) => [r.status, r.reason])).toEqual(losers.map(() => [409, reason]));
  // Each server answered all ten of its requests: one of them lost every one, after trying.
  for (const server of [0, 1]) expect(replies.filter((r) => r.server === server)).toHaveLength(10);
}

describe('parallel booking', () => {
  it('one detainee, twenty requests at once on two servers: exactly one booking', async () => {
    const result = await race(
      Array.from({ length: 20 }, (_, i) =>
        bookingRequest({ caseNumber: `R1-${i}`, detaineeId: 'RD-1', prosecutorId: `RP-${i}`, lawyerId: `RL-${i}`, requestedStart: 603, roomId: `interrogation-${(i % 6) + 1}`, sessionKind: 'arraignment' })
      )
    );
    expectOneWinner(result, 'detainee_busy');
  });

  it('one room, twenty requests at once: exactly one booking', async () => {
    const result = await race(
      Array.from({ length: 20 }, (_, i) => bookingRequest({ caseNumber: `R2-${i}`, detaineeId: `RD2-${i}`, prosecutorId: `RP2-${i}`, lawyerId: `RL2-${i}`, requestedStart: 633, roomId: 'plea-4' }))
    );
    expectOneWinner(result, 'room_busy');
  });

  it('one lawyer, twenty requests at once: exactly one booking', async () => {
    const result = await race(
      Array.from({ length: 20 }, (_, i) => bookingRequest({ caseNumber: `R3-${i}`, detaineeId: `RD3-${i}`, prosecutorId: `RP3-${i}`, lawyerId: 'RL3', requestedStart: 843 }))
    );
    expectOneWinner(result, 'lawyer_busy');
  });

  it('the database refuses a second hold of a held minute, whoever writes', () => {
    const db = openDatabase(path.join(dataDir, 'plea.sqlite'));
    try {
      const held = db.prepare("SELECT resource, date, minute FROM booking_holds WHERE resource = 'room:plea-4' LIMIT 1").get() as { resource: string; date: string; minute: number };
      const booking = db.prepare('SELECT id FROM bookings LIMIT 1').get() as { id: string };
      expect(() => db.prepare('INSERT INTO booking_holds (resource, date, minute, booking_id) VALUES (?, ?, ?, ?)').run(held.resource, held.date, held.minute, booking.id)).toThrow(/UNIQUE|PRIMARY KEY/);
      const perBooking = db.prepare("SELECT COUNT(DISTINCT booking_id) AS n FROM booking_holds").get() as { n: number };
      expect(perBooking.n).toBe(3);
    } finally {
      db.close();
    }
  });
});
