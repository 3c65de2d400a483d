// What the audit trail must hold about refusals and joins, and what happens
// when it cannot be written: refused handshakes (throttled, never flooding),
// refused joins, agent connections, joins with their remote address, guest-link
// issuance and revocation; a join or agent connection whose entry cannot be written is refused.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { connect, send } from './helpers/client.js';
import { bookingRequest, call } from './helpers/http.js';
import { staffOf } from './helpers/staff.js';
import { makeUser, signIn, type SignedIn } from './helpers/accounts.js';
import { io } from 'socket.io-client';
import type { TestSocket } from './helpers/client.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let dataDir: string;

/** The booked prosecutor of bookingRequest()'s bookings, signed in. */
let prosecutorSignedIn: SignedIn | null = null;
async function prosecutor(): Promise<SignedIn> {
  prosecutorSignedIn ??= await signIn(server, await makeUser(server, ['prosecutor'], { id: 'pros-001' }));
  return prosecutorSignedIn;
}

function rows(action: string): Array<{ actor: string; subject: string; detail: string }> {
  return server.db.prepare('SELECT actor, subject, detail FROM audit_entries WHERE action = ? ORDER BY seq').all(action) as Array<{ actor: string; subject: string; detail: string }>;
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-audit-refusals-'));
  // A careless earlier install: secrets and database readable by everyone.
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path.join(dataDir, 'secrets.json'), '{}', { mode: 0o644 });
  const pre = new Database(path.join(dataDir, 'plea.sqlite'));
  pre.close();
  chmodSync(path.join(dataDir, 'secrets.json'), 0o644);
  chmodSync(path.join(dataDir, 'plea.sqlite'), 0o644);
  server = await startTestServer({ rooms: 1, dataDir });
});
afterAll(async () => {
  await server?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('files', () => {
  it('forces secrets.json and the database files to 0600 at start', () => {
    for (const f of ['secrets.json', 'plea.sqlite', 'plea.sqlite-wal']) expect((statSync(path.join(dataDir, f)).mode & 0o777).toString(8), f).toBe('600');
    expect((statSync(dataDir).mode & 0o777).toString(8)).toBe('700');
  });

  it('exports a signed head at start: the file and the secrets hold no audit key in the database', () => {
    expect(statSync(path.join(dataDir, 'audit-heads.jsonl')).size).toBeGreaterThan(0);
    const key = server.secrets.auditKey;
    const dump = JSON.stringify(server.db.prepare('SELECT * FROM audit_meta').all()) + JSON.stringify(server.db.prepare('SELECT * FROM audit_checkpoints').all());
    expect(dump).not.toContain(key);
  });
});

describe('refusals and joins are audited', () => {
  it('a refused agent handshake is audited with its address and claimed room', async () => {
    await expect(connect(server.url, { kind: 'agent', roomId: 'interrogation-1', credential: 'w'.repeat(24) })).rejects.toThrow(/credential/);
    const last = rows('handshake.refused').at(-1)!;
    expect(JSON.parse(last.detail)).toMatchObject({ reason: 'unknown room or wrong agent credential', remoteAddress: '127.0.0.1', kind: 'agent', roomId: 'interrogation-1' });
  });

  it('a loop of refused handshakes writes a bounded number of entries', async () => {
    const before = rows('handshake.refused').length;
    for (let i = 0; i < 40; i++) await connect(server.url, { kind: 'board', key: 'k'.repeat(20) }).catch(() => undefined);
    const written = rows('handshake.refused').length - before;
    expect(written).toBeLessThan(20);
    expect(written).toBeGreaterThan(0);
  });

  it('an agent connection and a party join are audited, the join with its remote address', async () => {
    const agent = await connect(server.url, { kind: 'agent', roomId: 'interrogation-1', credential: server.secrets.agentCredentials['interrogation-1'] });
    expect(rows('agent.connected').at(-1)).toMatchObject({ actor: 'agent:interrogation-1' });
    expect((await send(agent, 'agent:join', {})).ok).toBe(true);
    const joined = JSON.parse(rows('party.joined').at(-1)!.detail) as { remoteAddress: string; role: string };
    expect(joined).toMatchObject({ role: 'room', remoteAddress: '127.0.0.1' });
    const party = server.db.prepare("SELECT remote_address FROM parties WHERE role = 'room' ORDER BY joined_at DESC LIMIT 1").get() as { remote_address: string };
    expect(party.remote_address).toBe('127.0.0.1');
    agent.close();
  });

  it('a refused join is audited', async () => {
    const signedIn = await prosecutor();
    const s: TestSocket = io(server.url, { auth: { kind: 'person' }, extraHeaders: { cookie: signedIn.cookie }, transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => (s.once('connect', () => resolve()), s.once('connect_error', reject)));
    const reply = await send(s, 'session:join', { bookingId: 'B-nope' });
    expect(reply.ok).toBe(false);
    expect(JSON.parse(rows('join.refused').at(-1)!.detail)).toMatchObject({ remoteAddress: '127.0.0.1' });
    s.close();
  });

  it('issuing and revoking a guest link is audited with who asked', async () => {
    const key = await staffOf(server);
    const created = await call<{ id: string }>(server.url, 'POST', '/api/bookings', bookingRequest(), key);
    expect(created.status).toBe(201);
    const pros = await prosecutor();
    const issued = await pros.call<{ link: { id: string } }>('POST', `/api/bookings/${created.body.id}/guest-links`, { role: 'defence_lawyer', guestName: '辩护律师' });
    expect(issued.status).toBe(201);
    expect(rows('guest_link.issued').at(-1)).toMatchObject({ subject: `booking:${created.body.id}`, actor: 'user:' + pros.user.username });
    expect((await pros.call('POST', `/api/bookings/${created.body.id}/guest-links/${issued.body.link.id}/revoke`)).status).toBe(200);
    expect(rows('guest_link.revoked').at(-1)).toMatchObject({ subject: `booking:${created.body.id}`, actor: 'user:' + pros.user.username });
  });
});

describe('when the audit trail cannot be written', () => {
  it('a join is refused with a clear error and no party appears; it works again once the trail does', async () => {
    const token = server.tokens.issue({ roomId: 'interrogation-1', role: 'prosecutor', bookingId: null, nbf: 0, exp: Date.now() + 60_000 });
    const s = await connect(server.url, { kind: 'party', token });
    const pros = await prosecutor();
    const session = server.registry.forRoom('interrogation-1')!;
    const partiesBefore = session.partyList().length;
    server.db.exec(`CREATE TRIGGER audit_full BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END;`);
    try {
      const reply = await send(s, 'session:join', {});
      expect(reply.ok).toBe(false);
      if (!reply.ok) {
        expect(reply.error.code).toBe('unavailable');
        expect(reply.error.message).toMatch(/audit/);
      }
      expect(session.partyList().length).toBe(partiesBefore);
      // A room agent is not let in either.
      await expect(connect(server.url, { kind: 'agent', roomId: 'interrogation-1', credential: server.secrets.agentCredentials['interrogation-1'] })).rejects.toThrow(/audit trail cannot be written/);
      // Issuing a guest link is refused too, and leaves no link.
      const id = (server.db.prepare("SELECT id FROM bookings LIMIT 1").get() as { id: string }).id;
      const linksBefore = (server.db.prepare('SELECT count(*) AS n FROM guest_links').get() as { n: number }).n;
      const issued = await pros.call('POST', `/api/bookings/${id}/guest-links`, { role: 'defence_lawyer', guestName: '辩护律师' });
      expect(issued.status).toBe(503);
      expect((server.db.prepare('SELECT count(*) AS n FROM guest_links').get() as { n: number }).n).toBe(linksBefore);
    } finally {
      server.db.exec('DROP TRIGGER audit_full');
    }
    expect((await send(s, 'session:join', {})).ok).toBe(true);
    s.close();
  });

  it('the trail written by this server verifies, in chunks', async () => {
    const r = await server.audit.verifyAsync({ full: true, chunk: 50 });
    expect(r).toMatchObject({ intact: true });
    expect(r.checked).toBeGreaterThan(10);
  });
});
