// npm run bench:access -- [--json] [--entries N]
// Logins per second with the chosen password hash (and its memory cost), join
// authorization latency through the real signalling (median, p95), and audit
// verify throughput (entries/s) on a trail of 1 million entries.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { io } from 'socket.io-client';
import { loadConfig } from '../server/config.js';
import { startServer } from '../server/app.js';
import { createRootLogger } from '../server/logger.js';
import { openDatabase } from '../server/db/database.js';
import { AuditTrail } from '../server/audit/audit-trail.js';
import { auditKeys } from '../server/audit/audit-chain.js';
import { argon2Parameters, hashPassword, passwordHashName, verifyPassword } from '../server/access/passwords.js';
import { generateEvidenceKeyPem } from '../recordings/disc/evidence-key.js';
import { staffMember } from '../test/helpers/staff.js';
import { benchPerson } from './lib/bench-people.js';
import { allDayWindows, siteClockAt } from '../test/helpers/site-day.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const entriesArg = args.indexOf('--entries');
const entries = entriesArg >= 0 ? Number(args[entriesArg + 1]) : 1_000_000;
const say = (msg: string) => process.stderr.write(`${msg}\n`);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function logins(): Promise<Record<string, unknown>> {
  const hash = await hashPassword('correct horse battery staple');
  const kind = await passwordHashName();
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < 5000 || n < 5) {
    if (!(await verifyPassword(hash, 'correct horse battery staple'))) throw new Error('verify failed');
    n++;
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    hash: kind,
    parameters: kind === 'argon2id' ? argon2Parameters : { N: 2 ** 15, r: 8, p: 1 },
    memoryKiB: kind === 'argon2id' ? argon2Parameters.memoryCost : (128 * 2 ** 15 * 8) / 1024,
    loginsPerSecond: Math.round((n / seconds) * 10) / 10,
    sequentialVerifies: n,
  };
}

async function joins(): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-bench-access-'));
  const base = loadConfig({ env: {} });
  const config = loadConfig({
    env: {},
    overrides: {
      site: { ...base.site, rooms: base.site.rooms.slice(0, 1) },
      schedule: { ...base.schedule, weeklyWindows: allDayWindows(), joinOpensMinutesBefore: 30 },
      http: { ...base.http, host: '127.0.0.1', port: 0, publicUrl: '' },
      media: { ...base.media, workers: 1, listenIp: '127.0.0.1', announcedAddress: '', plainListenIp: '127.0.0.1' },
      dataDir,
      logLevel: 'warn',
      demo: { syntheticAgents: false, standingSessions: false },
      limits: { ...base.limits, joinsPerMinute: 100000, eventsPerSecond: 100000, eventBurst: 100000 },
    },
  });
  // The site's clock at 10:00 today, so that a booking fits whatever the hour.
  const clock = siteClockAt(config.site.timeZone, 10 * 60);
  const server = await startServer(config, createRootLogger('warn'), { clock });
  const roomId = config.site.rooms[0]!.id;
  // The real path: staff book the hearing and bring the detainee in; the booked prosecutor signs in and joins by account.
  const staff = await staffMember(server);
  const api = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(`${server.url}${p}`, { method, headers: { ...staff.headers(method !== 'GET'), 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const j = (await r.json()) as Record<string, unknown>;
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(j)}`);
    return j;
  };
  const now = clock.local();
  const booking = await api('POST', '/api/bookings', {
    caseNumber: '京朝检刑诉〔2026〕9101号', detaineeId: 'D-9101', procuratorateId: 'district-01', priorityClass: 'district', prosecutorId: 'pros-bench',
    lawyerRole: 'defence', lawyerId: 'law-bench', sessionKind: 'plea_hearing', date: now.date, requestedStart: Math.ceil((now.minute + 10) / 5) * 5, durationMin: 12, roomId,
  });
  const bookingId = String(booking['id']);
  await api('POST', `/api/bookings/${bookingId}/status`, { status: 'escorting' });
  await api('POST', `/api/bookings/${bookingId}/status`, { status: 'in_room' });
  const cookie = await benchPerson(server, 'pros-bench', ['prosecutor']);
  const socket = io(server.url, { auth: { kind: 'person' }, extraHeaders: { cookie }, transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ask = (event: string, payload: unknown) =>
    new Promise<{ ok: boolean; error?: unknown }>((resolve) => (socket.emit as unknown as (e: string, p: unknown, a: (r: { ok: boolean }) => void) => void)(event, payload, resolve));
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    const r = await ask('session:join', { bookingId });
    times.push(performance.now() - t);
    if (!r.ok) throw new Error(`join refused in the benchmark: ${JSON.stringify(r.error)}`);
    await ask('session:leave', {});
  }
  socket.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  times.sort((a, b) => a - b);
  return {
    joins: times.length,
    medianMs: Math.round(quantile(times, 0.5) * 100) / 100,
    p95Ms: Math.round(quantile(times, 0.95) * 100) / 100,
    includes: 'session:join round trip on 127.0.0.1 by a signed-in prosecutor: the account behind the cookie, the join rules (booked person, booking status, window, department allowances), limits, the party row and its audit entry',
  };
}

function auditVerify(): Record<string, unknown> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'plea-bench-audit-'));
  const db = openDatabase(path.join(dir, 'plea.sqlite'));
  const trail = new AuditTrail(db, { keys: auditKeys(randomBytes(32).toString('base64url'), generateEvidenceKeyPem()), headFile: path.join(dir, 'audit-heads.jsonl') });
  const t0 = performance.now();
  const batch = 20_000;
  for (let done = 0; done < entries; done += batch) {
    db.transaction(() => {
      for (let i = 0; i < Math.min(batch, entries - done); i++) {
        trail.append({ actor: `user:u${i % 50}`, action: 'party.joined', subject: `session:s${done + i}`, detail: { role: 'lawyer', remoteAddress: '10.1.2.3' } });
      }
    })();
    if ((done / batch) % 10 === 0) say(`audit: ${done + batch} of ${entries} entries written`);
  }
  const writeSeconds = (performance.now() - t0) / 1000;
  trail.exportHead(true);
  const t1 = performance.now();
  const full = trail.verifyNow(true);
  const verifySeconds = (performance.now() - t1) / 1000;
  for (let i = 0; i < 1000; i++) trail.record({ actor: 'system', action: 'bench.more', subject: `n:${i}` });
  const t2 = performance.now();
  const incremental = trail.verifyNow();
  const incrementalSeconds = (performance.now() - t2) / 1000;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  if (!full.intact || !incremental.intact) throw new Error('the benchmark trail did not verify');
  return {
    entries,
    appendPerSecond: Math.round(entries / writeSeconds),
    fullVerifySeconds: Math.round(verifySeconds * 100) / 100,
    verifyEntriesPerSecond: Math.round(full.checked / verifySeconds),
    incrementalAfter1000More: { checked: incremental.checked, seconds: Math.round(incrementalSeconds * 1000) / 1000 },
  };
}

async function main(): Promise<void> {
  say('logins ...');
  const login = await logins();
  say('joins ...');
  const join = await joins();
  say('audit ...');
  const audit = auditVerify();
  const result = { date: new Date().toISOString(), machine: `${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, shared with other running jobs`, login, join, audit };
  if (json) console.log(JSON.stringify(result));
  else console.log(JSON.stringify(result, null, 2));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  }
);
