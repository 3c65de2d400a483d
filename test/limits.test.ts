// Limits an attacker with one link (or one connection) runs into: parties per
// role, transports and ports per session, event and join rates per connection,
// HTTP rate and body size, foreign origins; and the secure headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { startTestServer } from './helpers/server.js';
import { connect, send, type TestSocket } from './helpers/client.js';
import { redactUrl } from '../server/logger.js';
import { apiToken } from './helpers/staff.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
const sockets: TestSocket[] = [];

function link(role: 'prosecutor' | 'lawyer' | 'guest'): string {
  return server.tokens.issue({ roomId: 'interrogation-1', role, bookingId: null, nbf: 0, exp: Date.now() + 600_000 });
}
async function party(role: 'prosecutor' | 'lawyer' | 'guest'): Promise<TestSocket> {
  const s = await connect(server.url, { kind: 'party', token: link(role) });
  sockets.push(s);
  return s;
}

beforeAll(async () => {
  server = await startTestServer({ rooms: 1, overrides: { limits: { eventsPerSecond: 50, eventBurst: 200, joinsPerMinute: 20, httpPerMinute: 100, httpBodyBytes: 65536 } } });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.cleanup();
});

describe('one session cannot take a worker', () => {
  it('parties per role, transports per party and the session port budget are refused with limit_reached', async () => {
    const joined: TestSocket[] = [];
    for (const role of ['prosecutor', 'prosecutor', 'lawyer', 'lawyer', 'guest', 'guest'] as const) {
      const s = await party(role);
      expect((await send(s, 'session:join', {})).ok).toBe(true);
      joined.push(s);
    }
    // One link, a third prosecutor: refused (the issue's 21 parties from one link).
    const third = await party('prosecutor');
    const r = await send(third, 'session:join', {});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('limit_reached');
    // Transports: four each, then refused.
    const first = joined[0]!;
    for (let i = 0; i < 4; i++) expect((await send(first, 'transport:create', { direction: i % 2 ? 'recv' : 'send' })).ok).toBe(true);
    const fifth = await send(first, 'transport:create', { direction: 'send' });
    expect(fifth.ok).toBe(false);
    if (!fifth.ok) expect(fifth.error.message).toMatch(/at most 4/);
    // The others fill the session's 48 ports; the next transport is refused for the budget.
    let refusedForBudget = '';
    for (const s of joined.slice(1)) {
      for (let i = 0; i < 4; i++) {
        const t = await send(s, 'transport:create', { direction: 'recv' });
        if (!t.ok) refusedForBudget = t.error.message;
      }
    }
    expect(refusedForBudget).toBe('');
    const session = server.registry.forRoom('interrogation-1')!;
    expect(() => session.assertPorts(2)).toThrow(/48 media ports/);
    const refused = server.db.prepare("SELECT COUNT(*) AS n FROM audit_entries WHERE action = 'join.refused'").get() as { n: number };
    expect(refused.n).toBeGreaterThan(0);
    for (const s of joined) await send(s, 'session:leave', {});
  });
});

describe('per connection', () => {
  it('a flood of events is answered limit_reached beyond the burst', async () => {
    const s = await party('lawyer');
    const replies = await Promise.all(Array.from({ length: 400 }, () => send(s, 'consumer:resume', { consumerId: 'x' })));
    const limited = replies.filter((r) => !r.ok && r.error.code === 'limit_reached').length;
    expect(limited).toBeGreaterThan(100);
    expect(limited).toBeLessThan(400);
  });

  it('a join/leave loop is refused after joinsPerMinute, so it cannot flood the audit trail', async () => {
    const s = await party('guest');
    const before = (server.db.prepare("SELECT COUNT(*) AS n FROM audit_entries WHERE action = 'party.joined'").get() as { n: number }).n;
    let refusedAt = -1;
    for (let i = 0; i < 40; i++) {
      const r = await send(s, 'session:join', {});
      if (!r.ok) {
        expect(r.error.code).toBe('limit_reached');
        refusedAt = i;
        break;
      }
      await send(s, 'session:leave', {});
    }
    expect(refusedAt).toBe(20);
    const after = (server.db.prepare("SELECT COUNT(*) AS n FROM audit_entries WHERE action = 'party.joined'").get() as { n: number }).n;
    expect(after - before).toBe(20);
  });

  it('a page of another origin cannot open a Socket.io connection; the same origin can', async () => {
    const tryOrigin = (origin: string) =>
      new Promise<string>((resolve) => {
        const s = io(server.url, { auth: { kind: 'party', token: link('lawyer') }, transports: ['websocket'], reconnection: false, extraHeaders: { origin } });
        const t = setTimeout(() => resolve('timeout'), 5000);
        s.once('connect', () => (clearTimeout(t), s.close(), resolve('connected')));
        s.once('connect_error', (e) => (clearTimeout(t), s.close(), resolve(`refused: ${e.message}`)));
      });
    expect(await tryOrigin('http://evil.example')).toMatch(/^refused/);
    expect(await tryOrigin(server.url)).toBe('connected');
  });
});

describe('HTTP', () => {
  it('secure headers: CSP without framing, nosniff; no CORS for another origin', async () => {
    const res = await fetch(`${server.url}/api/health`, { headers: { origin: 'http://evil.example' } });
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a body over the limit is refused with 413 and a JSON error', async () => {
    const key = await apiToken(server);
    const res = await fetch(`${server.url}/api/bookings`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ caseNumber: 'x'.repeat(70_000) }) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: expect.any(String), message: expect.any(String) });
  });

  it('more than httpPerMinute requests from one address get 429 with a clear message, audited', async () => {
    let limited: Response | null = null;
    for (let i = 0; i < 150 && !limited; i++) {
      const res = await fetch(`${server.url}/api/health`);
      if (res.status === 429) limited = res;
    }
    expect(limited).not.toBeNull();
    expect(await limited!.json()).toMatchObject({ error: 'rate_limited', message: expect.stringMatching(/at most 100 a minute/) });
    const n = (server.db.prepare("SELECT COUNT(*) AS n FROM audit_entries WHERE action = 'limit.refused'").get() as { n: number }).n;
    expect(n).toBeGreaterThan(0);
  });

  it('join tokens and keys are redacted from logged URLs', () => {
    expect(redactUrl('/session?token=abc.def&x=1')).toBe('/session?token=[redacted]&x=1');
    expect(redactUrl('/staff?lang=en&key=secret')).toBe('/staff?lang=en&key=[redacted]');
  });
});
