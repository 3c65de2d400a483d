// Authorization, table-driven from the server's own registry: every REST route
// and every Socket.io event declares its rule; each is tried unauthenticated and
// with every wrong kind of caller, and must be refused without changing state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { connect, send, type TestSocket } from './helpers/client.js';
import { clientEventAccess, clientEventSchemas, type ConnectionKind } from '../server/signalling/protocol.js';
import type { AccessRule } from '../server/access/authorization.js';
import { allRoles, allScopes, type Role, type Scope } from '../server/access/roles.js';
import { signedInAs, makeUser, signIn, type SignedIn } from './helpers/accounts.js';
import { staffOf } from './helpers/staff.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let bookingId: string;

/**
 * The routes open to anyone. Adding a public route means adding it here, on
 * purpose: a route made public by mistake fails this test.
 */
const publicRoutes = new Set(['GET /api/health', 'HEAD /api/health', 'GET /api/openapi.json', 'HEAD /api/openapi.json', 'GET /', 'HEAD /', 'GET /session', 'HEAD /session', 'GET /staff', 'HEAD /staff', 'GET /login', 'HEAD /login', 'GET /setup', 'HEAD /setup', 'GET /evidence', 'HEAD /evidence', 'GET /admin', 'HEAD /admin', 'GET /*', 'HEAD /*', 'POST /api/auth/login', 'POST /api/auth/setup', 'GET /guest', 'HEAD /guest', 'POST /api/guest/redeem', 'GET /api/guest/me', 'HEAD /api/guest/me']);

/** A caller the test can be: the headers it sends and what it is. */
interface Caller {
  name: string;
  kind: 'user' | 'token' | 'agent' | 'must-change';
  roles: readonly Role[];
  scopes: readonly Scope[];
  headers(): Record<string, string>;
}

const people: Caller[] = [];

function admits(rule: AccessRule, c: Caller): boolean {
  switch (rule.kind) {
    case 'public':
      return true;
    case 'agent':
      return c.kind === 'agent';
    case 'signed-in':
      return c.kind === 'user' || (c.kind === 'must-change' && rule.beforePasswordChange);
    case 'roles':
      if (c.kind === 'token') return rule.scopes.some((s) => c.scopes.includes(s));
      if (c.kind === 'user') return rule.roles.some((r) => c.roles.includes(r));
      return false;
  }
}

async function makeCallers(): Promise<void> {
  // One signed-in person per role, each with its CSRF token (so a refusal is the rule's, not CSRF's).
  for (const role of allRoles) {
    const s: SignedIn = await signedInAs(server, role);
    people.push({ name: `user with role ${role}`, kind: 'user', roles: [role], scopes: [], headers: () => s.headers() });
  }
  // A person who must still change the password an administrator set: an administrator even.
  const pending = await makeUser(server, ['administrator', 'detention_staff']);
  const ps = await signIn(server, pending);
  server.db.prepare('UPDATE users SET must_change_password = 1 WHERE id = ?').run(pending.id);
  people.push({ name: 'administrator before changing the password', kind: 'must-change', roles: [], scopes: [], headers: () => ps.headers() });
  // One API token per scope.
  const admin = await signedInAs(server, 'administrator');
  for (const scope of allScopes) {
    const made = await admin.call<{ token: string }>('POST', '/api/admin/tokens', { name: `machine ${scope}`, scopes: [scope] });
    expect(made.status).toBe(201);
    people.push({ name: `API token with scope ${scope}`, kind: 'token', roles: [], scopes: [scope], headers: () => ({ authorization: `Bearer ${made.body.token}` }) });
  }
  const room = server.config.site.rooms[0]!.id;
  people.push({ name: 'room agent', kind: 'agent', roles: [], scopes: [], headers: () => ({ authorization: `Agent ${room}:${server.secrets.agentCredentials[room]}` }) });
}

/** Bookkeeping a request may touch without changing anything: when a session or token was last used. */
const touched: Record<string, string> = { api_tokens: 'last_used_at', login_sessions: 'last_seen_at' };

/** Everything the server stores but the audit trail, whose refusals are expected. */
function snapshot(): string {
  const tables = (server.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>)
    .map((t) => t.name)
    .filter((n) => n !== 'audit_entries');
  return JSON.stringify(
    tables.map((t) => [
      t,
      (server.db.prepare(`SELECT * FROM "${t}"`).all() as Array<Record<string, unknown>>).map((row) => {
        const col = touched[t];
        return col ? { ...row, [col]: null } : row;
      }),
    ])
  );
}
const lastSeq = () => (server.db.prepare('SELECT coalesce(max(seq), 0) AS s FROM audit_entries').get() as { s: number }).s;
const auditSince = (seq: number) => server.db.prepare('SELECT action FROM audit_entries WHERE seq > ?').all(seq) as Array<{ action: string }>;

function concrete(url: string): string {
  return url.replace(/:id\b/g, bookingId).replace(/:[A-Za-z]+/g, 'x').replace(/\*$/, 'index.html');
}

async function request(method: string, url: string, headers: Record<string, string>): Promise<number> {
  const hasBody = !['GET', 'HEAD', 'DELETE'].includes(method);
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: { ...headers, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
    body: hasBody ? JSON.stringify(bookingRequest()) : null,
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  server = await startTestServer({ rooms: 4, standingSessions: true });
  const made = await call<{ id: string }>(server.url, 'POST', '/api/bookings', bookingRequest(), await staffOf(server));
  expect(made.status).toBe(201);
  bookingId = made.body.id;
  await makeCallers();
});
afterAll(async () => {
  await server?.cleanup();
});

describe('REST routes', () => {
  it('every route declares a rule, and only the listed ones are public', () => {
    const routes = server.access.routes();
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((r) => !r.access).map((r) => `${r.method} ${r.url}`)).toEqual([]);
    const open = routes.filter((r) => r.access?.kind === 'public').map((r) => `${r.method} ${r.url}`);
    expect(open.filter((r) => !publicRoutes.has(r))).toEqual([]);
  });

  it('refuses every protected route unauthenticated and with every wrong role, and nothing changes', async () => {
    const before = snapshot();
    const seq = lastSeq();
    let tried = 0;
    const wrong: string[] = [];
    for (const route of server.access.routes()) {
      const rule = route.access;
      if (!rule || rule.kind === 'public') continue;
      const url = concrete(route.url);
      const anonymous = await request(route.method, url, {});
      tried++;
      if (anonymous !== 401) wrong.push(`${route.method} ${url} unauthenticated: ${anonymous}`);
      // A Bearer key that is no API token (the shared staff key of before accounts looked like this): nobody.
      const badKey = await request(route.method, url, { authorization: `Bearer ${'x'.repeat(24)}` });
      if (badKey !== 401) wrong.push(`${route.method} ${url} wrong key: ${badKey}`);
      for (const c of people) {
        if (admits(rule, c)) continue;
        tried++;
        const status = await request(route.method, url, c.headers());
        if (status !== 403) wrong.push(`${route.method} ${url} as ${c.name}: ${status}`);
      }
      // A signed-in person the rule admits, writing without the CSRF token: refused too.
      const admitted = people.find((c) => c.kind === 'user' && admits(rule, c));
      if (admitted && !['GET', 'HEAD'].includes(route.method)) {
        tried++;
        const { 'x-csrf-token': _dropped, ...noCsrf } = admitted.headers();
        const status = await request(route.method, url, noCsrf);
        if (status !== 403) wrong.push(`${route.method} ${url} as ${admitted.name} without CSRF token: ${status}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(tried).toBeGreaterThan(300);
    expect(snapshot()).toBe(before);
    // Each refusal is audited, and nothing else was written.
    const written = auditSince(seq);
    expect(written.length).toBeGreaterThanOrEqual(tried);
    expect(written.filter((a) => a.action !== 'access.refused')).toEqual([]);
  });

  it('a refusal says why, in the shape of every error', async () => {
    const res = await call(server.url, 'POST', `/api/bookings/${bookingId}/cancel`, {});
    expect(res).toEqual({ status: 401, body: { error: 'unauthorized', message: expect.any(String) } });
  });
});

describe('Socket.io events', () => {
  const sockets: Partial<Record<ConnectionKind, TestSocket>> = {};
  beforeAll(async () => {
    const now = Date.now();
    const room = server.config.site.rooms[0]!.id;
    sockets.party = await connect(server.url, { kind: 'party', token: server.tokens.issue({ roomId: room, role: 'lawyer', bookingId: null, nbf: now - 1000, exp: now + 600_000 }) });
    sockets.agent = await connect(server.url, { kind: 'agent', roomId: room, credential: server.secrets.agentCredentials[room] });
    sockets.board = await connect(server.url, { kind: 'board' }, { cookie: (await staffOf(server)).cookie });
  });
  afterAll(() => {
    for (const s of Object.values(sockets)) s?.close();
  });

  it('every event declares who may send it', () => {
    const declared = new Set(Object.keys(clientEventAccess));
    expect(Object.keys(clientEventSchemas).filter((e) => !declared.has(e))).toEqual([]);
  });

  it('refuses an unauthenticated handshake', async () => {
    await expect(connect(server.url, {})).rejects.toThrow();
    await expect(connect(server.url, { kind: 'party' })).rejects.toThrow();
  });

  it('refuses every event from every wrong kind of connection, and nothing changes', async () => {
    const before = snapshot();
    const seq = lastSeq();
    const wrong: string[] = [];
    let tried = 0;
    for (const [event, rule] of Object.entries(clientEventAccess)) {
      for (const kind of ['party', 'agent', 'board'] as const) {
        if ((rule.from as readonly string[]).includes(kind)) continue;
        tried++;
        const reply = await send(sockets[kind]!, event, {});
        if (reply.ok || reply.error.code !== 'forbidden') wrong.push(`${event} from ${kind}: ${JSON.stringify(reply)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(tried).toBeGreaterThan(15);
    expect(snapshot()).toBe(before);
    expect(auditSince(seq).filter((a) => a.action === 'access.refused').length).toBe(tried);
  });

  it('events that need a joined session are refused before joining', async () => {
    for (const [event, rule] of Object.entries(clientEventAccess)) {
      if (!rule.joined || !(rule.from as readonly string[]).includes('party')) continue;
      const reply = await send(sockets.party!, event, {});
      // Bad payload or not joined: either way refused, never acted on.
      expect(reply.ok, event).toBe(false);
    }
  });
});
