// Two staff members booking the same room, detainee or lawyer at once can never
// both succeed: two server processes on one SQLite file take parallel requests;
// the database decides.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeTcpPort } from './helpers/agent.js';
import { waitFor } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { openDatabase } from '../server/db/database.js';

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

beforeAll(async () => {
  servers.push(await startServerProcess(41000));
  servers.push(await startServerProcess(41200));
});
afterAll(() => {
  for (const s of servers) s.proc.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

async function race(requests: Array<Record<string, unknown>>): Promise<number[]> {
  // Both servers share the data directory, so the same staff key.
  const secrets = JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as { staffKeys: Record<string, string> };
  const key = secrets.staffKeys['staff'];
  const replies = await Promise.all(requests.map((body, i) => call(servers[i % 2]!.url, 'POST', '/api/bookings', body, key)));
  return replies.map((r) => r.status);
}

describe('parallel booking', () => {
  it('one detainee, twenty requests at once on two servers: exactly one booking', async () => {
    const statuses = await race(
      Array.from({ length: 20 }, (_, i) =>
        bookingRequest({ caseNumber: `R1-${i}`, detaineeId: 'RD-1', prosecutorId: `RP-${i}`, lawyerId: `RL-${i}`, requestedStart: 603, roomId: `interrogation-${(i % 6) + 1}`, sessionKind: 'arraignment' })
      )
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
  });

  it('one room, twenty requests at once: exactly one booking', async () => {
    const statuses = await race(
      Array.from({ length: 20 }, (_, i) => bookingRequest({ caseNumber: `R2-${i}`, detaineeId: `RD2-${i}`, prosecutorId: `RP2-${i}`, lawyerId: `RL2-${i}`, requestedStart: 633, roomId: 'plea-4' }))
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
  });

  it('one lawyer, twenty requests at once: exactly one booking', async () => {
    const statuses = await race(
      Array.from({ length: 20 }, (_, i) => bookingRequest({ caseNumber: `R3-${i}`, detaineeId: `RD3-${i}`, prosecutorId: `RP3-${i}`, lawyerId: 'RL3', requestedStart: 843 }))
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
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
