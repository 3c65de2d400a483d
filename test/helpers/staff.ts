// Detention-centre staff for tests: real people (role detention_staff) who sign
// in over HTTP (session cookie + CSRF token), and the API tokens machine clients
// book with. Tests of who did what use the person: the audit trail and the
// schedule's history name `user:<username>`.
import path from 'node:path';
import type { RunningServer } from '../../server/app.js';
import type { Config } from '../../server/config.js';
import type { Scope } from '../../server/access/roles.js';
import { openDatabase } from '../../server/db/database.js';
import { AuditTrail } from '../../server/audit/audit-trail.js';
import { AccountStore } from '../../server/access/account-store.js';
import { auditKeysOf, loadSecrets } from '../../server/access/secrets.js';
import { hashPassword } from '../../server/access/passwords.js';
import type { Page } from 'playwright-core';
import { makeUser, signIn, login, SignedIn, type TestUser } from './accounts.js';

type Host = Pick<RunningServer, 'url' | 'accounts'>;

/** A new member of staff, signed in. */
export async function staffMember(server: Host, over: { username?: string; displayName?: string } = {}): Promise<SignedIn> {
  return signIn(server, await makeUser(server, ['detention_staff'], over));
}

const theStaff = new WeakMap<object, Promise<SignedIn>>();
/** The account made for the first server of a data directory: a restarted server on it signs the same person in again. */
let made: TestUser | null = null;

/** The one member of staff a test file acts as on this server (made and signed in at first use). */
export function staffOf(server: Host): Promise<SignedIn> {
  let s = theStaff.get(server);
  if (!s) {
    const existing = server.accounts.store.userByName('staff-zhao');
    s = existing && made && existing.id === made.id
      ? signIn(server, made)
      : makeUser(server, ['detention_staff'], { username: 'staff-zhao', displayName: '赵看守', ...(existing ? { id: `${existing.id}-again`, username: `staff-zhao-${Date.now()}` } : {}) }).then((u) => {
          made = u;
          return signIn(server, u);
        });
    theStaff.set(server, s);
  }
  return s;
}

/** What a machine client booking for another procuratorate holds. */
export const scheduleScopes: readonly Scope[] = ['schedule:read', 'bookings:write'];

/** An API token issued by `owner` (default: the server's member of staff), with `scopes`. */
export async function apiToken(server: Host, scopes: readonly Scope[] = scheduleScopes, owner?: TestUser): Promise<string> {
  const person = owner ?? (await staffOf(server)).user;
  const record = server.accounts.store.user(person.id);
  if (!record) throw new Error(`no user ${person.id}`);
  const { token } = server.accounts.createToken(
    { name: `test client ${scopes.join(' ')}`, scopes },
    { kind: 'user', userId: record.id, username: record.username, displayName: record.displayName, organisationId: record.organisationId, roles: record.roles, loginSessionId: 'test', mustChangePassword: false }
  );
  return token;
}

/**
 * For a server in another process: puts a member of staff into its data
 * directory before it starts (the same secrets file, so the same audit key).
 */
export async function seedStaffAccount(config: Config, username = 'staff-bench', password = 'Bench-staff correct horse battery'): Promise<{ username: string; password: string }> {
  const secrets = loadSecrets(config);
  const db = openDatabase(path.join(config.dataDir, 'plea.sqlite'));
  try {
    const audit = new AuditTrail(db, { keys: auditKeysOf(secrets), headFile: path.join(config.dataDir, 'audit-heads.jsonl') });
    const store = new AccountStore(db, audit);
    if (!store.organisation('site')) store.addOrganisation({ id: 'site', name: '本院', nameEn: 'This procuratorate', kind: 'procuratorate', parentId: null }, 'test');
    if (!store.userByName(username)) {
      store.createUser({ id: `u-${username}`, username, displayName: username, organisationId: 'site', passwordHash: await hashPassword(password), mustChangePassword: false, roles: ['detention_staff'] }, 'test');
    }
  } finally {
    db.close();
  }
  return { username, password };
}

/** Signs a seeded member of staff in on a server at `url`. */
export async function signInAt(url: string, who: { username: string; password: string }): Promise<SignedIn> {
  const out = await login(url, who.username, who.password);
  if (out.status !== 200 || !out.setCookie) throw new Error(`login of ${who.username} refused: ${out.status} ${JSON.stringify(out.body)}`);
  return new SignedIn(url, out.setCookie.split(';')[0] as string, String(out.body['csrfToken']), { id: `u-${who.username}`, username: who.username, password: who.password, roles: ['detention_staff'] });
}

/**
 * In a browser page sent to /login (a signed-out page does that by itself):
 * signs `who` in through the form and waits until the login page has sent it on.
 */
export async function signInThroughLoginPage(page: Page, who: { username: string; password: string }): Promise<void> {
  await page.waitForURL((u) => u.pathname === '/login', { timeout: 20_000 });
  await page.locator('input[data-test="username"], [data-test="username"] input').first().fill(who.username);
  await page.locator('input[data-test="password"], [data-test="password"] input').first().fill(who.password);
  await page.locator('[data-test="submit"]').click();
  await page.waitForURL((u) => u.pathname !== '/login', { timeout: 20_000 });
}
