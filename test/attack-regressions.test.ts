// Attacks a hostile party, room PC or log reader would try, each named after
// what it tries (security review of 2026-12-01). Each failed on the code
// before its fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { rmSync } from 'node:fs';
import { startServer } from '../server/app.js';
import { createRootLogger } from '../server/logger.js';
import { testConfig, waitFor } from './helpers/server.js';
import { connect, send, type TestSocket } from './helpers/client.js';

type Server = Awaited<ReturnType<typeof startServer>>;
const ROOM = 'interrogation-1';
let server: Server;
let dataDir: string;
const logLines: string[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  const config = testConfig({ rooms: 1, overrides: { logLevel: 'info' } });
  dataDir = config.dataDir;
  const capture = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString('utf8'));
      cb();
    },
  });
  server = await startServer(config, createRootLogger('info', capture));
  await waitFor('the standing session', () => server.registry.forRoom(ROOM));
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function link(role: 'prosecutor' | 'lawyer', over: { nbf?: number; exp?: number; displayName?: string } = {}): string {
  const now = Date.now();
  return server.tokens.issue({ roomId: ROOM, role, bookingId: null, nbf: over.nbf ?? now - 1000, exp: over.exp ?? now + 60_000, ...(over.displayName ? { displayName: over.displayName } : {}) });
}

async function party(token: string): Promise<TestSocket> {
  const s = await connect(server.url, { kind: 'party', token });
  sockets.push(s);
  return s;
}

describe('attacks on joining', () => {
  it('a lawyer naming themselves "检察官1" in session:join is shown with the name of their link', async () => {
    const lawyer = await party(link('lawyer', { displayName: '王律师' }));
    const reply = await send(lawyer, 'session:join', { displayName: '检察官1' });
    expect(reply.ok).toBe(true);
    const session = server.registry.forRoom(ROOM)!;
    const shown = session.partyList().filter((p) => p.role === 'lawyer').map((p) => p.displayName);
    expect(shown).toEqual(['王律师']);
    // A link that names nobody shows the role's name, not the client's.
    const other = await party(link('prosecutor'));
    expect((await send(other, 'session:join', { displayName: '值班律师' })).ok).toBe(true);
    expect(session.partyList().filter((p) => p.role === 'prosecutor').map((p) => p.displayName)).toEqual(['检察官']);
    lawyer.close();
    other.close();
  });

  it('a socket opened before its link expired cannot join after it', async () => {
    const s = await party(link('prosecutor', { exp: Date.now() + 1200 }));
    await new Promise((r) => setTimeout(r, 1700));
    const reply = await send(s, 'session:join', {});
    expect(reply.ok).toBe(false);
    if (!reply.ok) expect(reply.error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/expired/) });
    expect(server.registry.forRoom(ROOM)!.partyList().some((p) => p.role === 'prosecutor')).toBe(false);
    s.close();
  });
});

describe('attacks on the audit trail and the worker with one link', () => {
  it('a join/leave loop with one link, reconnecting for every join, is stopped and does not flood the audit trail', async () => {
    const token = link('lawyer', { displayName: '循环律师' });
    const count = () => (server.db.prepare("SELECT COUNT(*) AS n FROM audit_entries WHERE action IN ('party.joined', 'party.left')").get() as { n: number }).n;
    const before = count();
    let joined = 0;
    let limited = 0;
    for (let i = 0; i < 60; i++) {
      // A fresh connection each time: a per-connection limit alone does not stop this.
      const s = await connect(server.url, { kind: 'party', token });
      const reply = await send(s, 'session:join', {});
      if (reply.ok) joined++;
      else if (reply.error.code === 'limit_reached') limited++;
      s.close();
    }
    // The loop really ran into the limit, and only a handful of joins went through.
    expect(limited).toBeGreaterThan(30);
    expect(joined).toBeGreaterThan(0);
    expect(joined).toBeLessThanOrEqual(20);
    expect(count() - before).toBeLessThanOrEqual(2 * 20);
    // Another link (another person) still joins.
    const other = await party(link('prosecutor'));
    expect((await send(other, 'session:join', {})).ok).toBe(true);
    other.close();
  });
});

describe('attacks with a room agent credential', () => {
  it('a second connection with the room agent credential is refused while the first is alive, and the real agent keeps its place', async () => {
    const credential = server.secrets.agentCredentials[ROOM]!;
    const real = await connect(server.url, { kind: 'agent', roomId: ROOM, credential });
    sockets.push(real);
    const joined = await send(real, 'agent:join', {});
    expect(joined.ok).toBe(true);
    const realParty = joined.ok ? (joined.data as { partyId: string }).partyId : '';
    await expect(connect(server.url, { kind: 'agent', roomId: ROOM, credential })).rejects.toThrow(/already has a connected agent/);
    const session = server.registry.forRoom(ROOM)!;
    expect(session.partyList().filter((p) => p.role === 'room').map((p) => p.id)).toEqual([realParty]);
    expect(real.connected).toBe(true);
    // Refused and audited.
    const refused = server.db.prepare("SELECT detail FROM audit_entries WHERE action = 'handshake.refused' ORDER BY seq DESC LIMIT 1").get() as { detail: string };
    expect(JSON.parse(refused.detail)).toMatchObject({ reason: expect.stringMatching(/already has a connected agent/), roomId: ROOM });
    // Once the real agent is gone, the room's agent may connect again (a restart).
    real.close();
    const again = await waitFor('a new agent connection after the first left', () => connect(server.url, { kind: 'agent', roomId: ROOM, credential }).catch(() => null), 10_000, 100);
    sockets.push(again);
    expect((await send(again, 'agent:join', {})).ok).toBe(true);
    again.close();
  });
});

describe('attacks on the logs', () => {
  it('a join link opened in the page URL is not written to the request log', async () => {
    const token = link('lawyer');
    await fetch(`${server.url}/session?token=${token}&autojoin=0`);
    await fetch(`${server.url}/api/health?key=${'k'.repeat(20)}`);
    await waitFor('the request lines', () => logLines.some((l) => l.includes('/api/health')), 5000, 50);
    const all = logLines.join('');
    expect(all).toContain('/session?token=[redacted]&autojoin=0');
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.split('.')[1]!);
    expect(all).not.toContain('k'.repeat(20));
  });
});

describe('attacks from another site', () => {
  it('a page of the controller framed by another site is refused by the browser, and a join link does not leak as a referrer', async () => {
    for (const path of ['/staff', '/session?token=x', '/api/health']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).not.toBe(500);
      expect(res.headers.get('x-frame-options')).toMatch(/^(DENY|SAMEORIGIN)$/);
      expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });
});
