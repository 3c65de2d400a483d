// Accounts against a real server: argon2id passwords, login with lock-out and
// per-address throttling, signed httpOnly SameSite session cookies, CSRF for
// cookie-authenticated writes, logout and logout everywhere, first-login password
// change, revocable scoped API tokens, the one-time set-up link.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { bookingRequest } from './helpers/http.js';
import { passwordHashName, verifyPassword } from '../server/access/passwords.js';
import { login, makeUser, signIn, signedInAs, SignedIn } from './helpers/accounts.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;

beforeAll(async () => {
  server = await startTestServer({ rooms: 2, standingSessions: false });
});
afterAll(async () => {
  await server?.cleanup();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers }).then((r) => r.status);
const audits = (action: string) => (server.db.prepare('SELECT count(*) AS n FROM audit_entries WHERE action = ?').get(action) as { n: number }).n;

describe('login', () => {
  it('stores argon2id hashes and sets a signed, httpOnly, SameSite=Strict, expiring cookie', async () => {
    const user = await makeUser(server, ['detention_staff']);
    const row = server.db.prepare('SELECT password_hash FROM users WHERE id = ?').get(user.id) as { password_hash: string };
    // argon2id wherever its binary loads (npm run setup builds it when the shipped one does not); scrypt otherwise.
    if ((await passwordHashName()) === 'argon2id') expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    else expect(row.password_hash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    const out = await login(server.url, user.username, user.password);
    expect(out.status).toBe(200);
    expect(out.setCookie).toMatch(/^plea_session=[A-Za-z0-9_-]{43}\.[^;]+;/);
    expect(out.setCookie).toMatch(/HttpOnly/i);
    expect(out.setCookie).toMatch(/SameSite=Strict/i);
    expect(out.setCookie).toMatch(/Expires=/i);
    const cookie = out.setCookie!.split(';')[0]!;
    expect(await get('/api/schedule/day?date=2026-11-27', { cookie })).toBe(200);
    // The database keeps only a hash of the cookie's secret.
    const secret = cookie.split('=')[1]!.split('.')[0]!;
    const dump = JSON.stringify(server.db.prepare('SELECT * FROM login_sessions').all()) + JSON.stringify(server.db.prepare('SELECT * FROM audit_entries').all());
    expect(dump).not.toContain(secret);
  });

  it('refuses a cookie whose signature or value was changed', async () => {
    const s = await signedInAs(server, 'detention_staff');
    const [name, value] = s.cookie.split('=') as [string, string];
    const [secret, sig] = value.split('.') as [string, string];
    const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    expect(await get('/api/schedule/day', { cookie: `${name}=${flipped}.${sig}` })).toBe(401);
    expect(await get('/api/schedule/day', { cookie: `${name}=${secret}` })).toBe(401);
    expect(await get('/api/schedule/day', { cookie: s.cookie })).toBe(200);
  });

  it('answers a wrong password and an unknown user alike, and audits both', async () => {
    const user = await makeUser(server, ['office']);
    const before = audits('auth.login_failed');
    const wrong = await login(server.url, user.username, 'not the password at all');
    const unknown = await login(server.url, 'nobody-here', 'not the password at all');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(audits('auth.login_failed')).toBe(before + 2);
  });

  it('locks an account after 5 failed logins, even against the right password', async () => {
    const user = await makeUser(server, ['prosecutor']);
    for (let i = 0; i < 5; i++) expect((await login(server.url, user.username, `wrong password ${i}`)).status).toBe(401);
    const right = await login(server.url, user.username, user.password);
    expect(right.status).toBe(401);
    expect(right.body['error']).toBe('account_locked');
    expect(audits('user.locked')).toBeGreaterThanOrEqual(1);
    // An administrator's reset unlocks it (with a new one-time password).
    const admin = await signedInAs(server, 'administrator');
    const reset = await admin.call<{ temporaryPassword: string }>('POST', `/api/admin/users/${user.id}/reset-password`);
    expect(reset.status).toBe(200);
    expect((await login(server.url, user.username, reset.body.temporaryPassword)).status).toBe(200);
  });

  it('throttles an address after 20 failed logins', async () => {
    let last = 0;
    for (let i = 0; i < 21; i++) last = (await login(server.url, `sprayed-${i}`, 'whatever password')).status;
    expect(last).toBe(429);
    expect(audits('auth.login_throttled')).toBeGreaterThanOrEqual(1);
    // Even a correct login from that address waits.
    const user = await makeUser(server, ['office']);
    expect((await login(server.url, user.username, user.password)).status).toBe(429);
    // Let later tests log in again from 127.0.0.1.
    (server.accounts as unknown as { failuresByAddress: Map<string, number[]> }).failuresByAddress.clear();
  });
});

describe('CSRF and logout', () => {
  it('refuses a cookie-authenticated write without the session CSRF token, or with another session\'s', async () => {
    const a = await signedInAs(server, 'detention_staff');
    const b = await signedInAs(server, 'detention_staff');
    const body = bookingRequest({ caseNumber: 'CSRF-1' });
    expect((await a.call('POST', '/api/bookings', body, { csrf: false })).status).toBe(403);
    const foreign = new SignedIn(a.base, a.cookie, b.csrfToken, a.user);
    const refused = await foreign.call('POST', '/api/bookings', body);
    expect(refused.status).toBe(403);
    expect(refused.body['error']).toBe('csrf');
    expect((await a.call('POST', '/api/bookings', body)).status).toBe(201);
  });

  it('logout ends this login session only; logout everywhere ends them all', async () => {
    const user = await makeUser(server, ['detention_staff']);
    const one = await signIn(server, user);
    const two = await signIn(server, user);
    const three = await signIn(server, user);
    expect((await one.call('POST', '/api/auth/logout')).status).toBe(204);
    expect(await get('/api/auth/me', { cookie: one.cookie })).toBe(401);
    expect(await get('/api/auth/me', { cookie: two.cookie })).toBe(200);
    const all = await two.call<{ sessions: number }>('POST', '/api/auth/logout-everywhere');
    expect(all.body.sessions).toBe(2);
    expect(await get('/api/auth/me', { cookie: two.cookie })).toBe(401);
    expect(await get('/api/auth/me', { cookie: three.cookie })).toBe(401);
  });
});

describe('administrator', () => {
  it('creates a person with a one-time password who must change it before anything else', async () => {
    const admin = await signedInAs(server, 'administrator');
    const made = await admin.call<{ user: { id: string }; temporaryPassword: string }>('POST', '/api/admin/users', { username: 'zhang.san', displayName: '张三', organisationId: 'site', roles: ['detention_staff'] });
    expect(made.status).toBe(201);
    const temp = made.body.temporaryPassword;
    const s = await signIn(server, { id: made.body.user.id, username: 'zhang.san', password: temp, roles: ['detention_staff'] });
    const blocked = await s.call('GET', '/api/schedule/day');
    expect(blocked.status).toBe(403);
    expect(blocked.body['error']).toBe('password_change_required');
    expect((await s.call('POST', '/api/auth/password', { currentPassword: temp, newPassword: 'short' })).status).toBe(400);
    expect((await s.call('POST', '/api/auth/password', { currentPassword: 'wrong one entirely', newPassword: 'a much better passphrase' })).status).toBe(403);
    expect((await s.call('POST', '/api/auth/password', { currentPassword: temp, newPassword: 'a much better passphrase' })).status).toBe(204);
    expect((await s.call('GET', '/api/schedule/day')).status).toBe(200);
  });

  it('disabling a person ends their sessions; the last administrator stays', async () => {
    const admin = await signedInAs(server, 'administrator');
    const victim = await signedInAs(server, 'office');
    expect((await admin.call('PATCH', `/api/admin/users/${victim.user.id}`, { disabled: true })).status).toBe(200);
    expect((await victim.call('GET', '/api/auth/me')).status).toBe(401);
    expect((await login(server.url, victim.user.username, victim.user.password)).status).toBe(401);
  });

  it('API tokens: scoped, shown once, stored hashed, revocable', async () => {
    const admin = await signedInAs(server, 'administrator');
    const made = await admin.call<{ token: string; view: { id: string } }>('POST', '/api/admin/tokens', { name: 'case system of a sibling procuratorate', scopes: ['bookings:write'] });
    expect(made.status).toBe(201);
    const bearer = { authorization: `Bearer ${made.body.token}` };
    const post = (h: Record<string, string>) =>
      fetch(`${server.url}/api/bookings`, { method: 'POST', headers: { ...h, 'content-type': 'application/json' }, body: JSON.stringify(bookingRequest({ caseNumber: 'TOK-1', detaineeId: 'TD-1', prosecutorId: 'TP-1', lawyerId: 'TL-1', requestedStart: 600 })) }).then((r) => r.status);
    expect(await post(bearer)).toBe(201);
    expect(await get('/api/audit/verify', bearer)).toBe(403);
    expect(JSON.stringify(server.db.prepare('SELECT * FROM api_tokens').all())).not.toContain(made.body.token.split('_')[2]);
    const list = await admin.call<{ tokens: Array<Record<string, unknown>> }>('GET', '/api/admin/tokens');
    expect(JSON.stringify(list.body)).not.toContain(made.body.token);
    expect((await admin.call('DELETE', `/api/admin/tokens/${made.body.view.id}`)).status).toBe(204);
    expect(await post(bearer)).toBe(401);
    // A token with its secret changed is nobody.
    expect(await get('/api/schedule/day', { authorization: `Bearer ${made.body.token.slice(0, -2)}xx` })).toBe(401);
  });
});

describe('first administrator', () => {
  it('a one-time set-up link makes the first administrator, once', async () => {
    const fresh = await startTestServer({ rooms: 1, standingSessions: false });
    try {
      const link = fresh.accounts.setupLink();
      expect(link).toBeTruthy();
      const body = { setupToken: link, username: 'admin', displayName: '管理员', password: 'first operator passphrase' };
      const post = (b: unknown) => fetch(`${fresh.url}/api/auth/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
      expect((await post({ ...body, setupToken: 'x'.repeat(32) })).status).toBe(403);
      expect((await post(body)).status).toBe(201);
      expect((await post({ ...body, username: 'admin2' })).status).toBe(403);
      expect(fresh.accounts.setupLink()).toBeNull();
      expect((await login(fresh.url, 'admin', 'first operator passphrase')).status).toBe(200);
    } finally {
      await fresh.cleanup();
    }
  });
});

describe('password hashes', () => {
  it('verifies the scrypt fallback\'s hashes, and refuses a wrong password or a mangled hash', async () => {
    const { scryptSync, randomBytes } = await import('node:crypto');
    const salt = randomBytes(16);
    const key = scryptSync('the right passphrase', salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const hash = `$scrypt$ln=15,r=8,p=1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    expect(await verifyPassword(hash, 'the right passphrase')).toBe(true);
    expect(await verifyPassword(hash, 'the wrong passphrase')).toBe(false);
    expect(await verifyPassword(hash.replace('ln=15', 'ln=14'), 'the right passphrase')).toBe(false);
    expect(await verifyPassword('$argon2id$garbage', 'the right passphrase')).toBe(false);
  });
});
