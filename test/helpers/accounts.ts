// People for tests: accounts made through the server's own account service, and
// signed in for real over HTTP (argon2id password, session cookie, CSRF token).
import type { RunningServer } from '../../server/app.js';
import type { Role } from '../../server/access/roles.js';
import { hashPassword } from '../../server/access/passwords.js';
import type { JsonReply } from './http.js';

type Host = Pick<RunningServer, 'url' | 'accounts'>;

let counter = 0;

/** Makes sure the site's own organisation exists (accounts belong to one). */
export function ensureOrganisation(server: Host, id = 'site'): string {
  if (!server.accounts.store.organisation(id)) {
    server.accounts.store.addOrganisation({ id, name: '本院', nameEn: 'This procuratorate', kind: 'procuratorate', parentId: null }, 'test');
  }
  return id;
}

export interface TestUser {
  id: string;
  username: string;
  password: string;
  roles: Role[];
}

/** A person with these roles whose password needs no change (as after their first login). */
export async function makeUser(server: Host, roles: Role[], over: { id?: string; username?: string; displayName?: string; organisationId?: string; password?: string } = {}): Promise<TestUser> {
  const n = ++counter;
  const username = over.username ?? `${roles.join('-') || 'nobody'}-${n}`;
  const password = over.password ?? `Pw-${n}-correct horse battery`;
  const id = over.id ?? `u-${n}-${roles[0] ?? 'none'}`;
  server.accounts.store.createUser(
    { id, username, displayName: over.displayName ?? username, organisationId: over.organisationId ?? ensureOrganisation(server), passwordHash: await hashPassword(password), mustChangePassword: false, roles },
    'test'
  );
  return { id, username, password, roles };
}

/** A signed-in browser without a browser: its cookie and CSRF token. */
export class SignedIn {
  constructor(readonly base: string, readonly cookie: string, readonly csrfToken: string, readonly user: TestUser) {}

  headers(write = true): Record<string, string> {
    return { cookie: this.cookie, ...(write ? { 'x-csrf-token': this.csrfToken } : {}) };
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, options: { csrf?: boolean } = {}): Promise<JsonReply<T>> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { ...this.headers(options.csrf ?? true), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  }
}

export async function login(base: string, username: string, password: string): Promise<{ status: number; body: Record<string, unknown>; setCookie: string | null }> {
  const res = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, setCookie: res.headers.get('set-cookie') };
}

/** Signs `user` in over HTTP; fails the test when the server refuses. */
export async function signIn(server: Host, user: TestUser): Promise<SignedIn> {
  const out = await login(server.url, user.username, user.password);
  if (out.status !== 200 || !out.setCookie) throw new Error(`login of ${user.username} refused: ${out.status} ${JSON.stringify(out.body)}`);
  const cookie = out.setCookie.split(';')[0] as string;
  return new SignedIn(server.url, cookie, String(out.body['csrfToken']), user);
}

/** A new person with `roles`, signed in. */
export async function signedInAs(server: Host, ...roles: Role[]): Promise<SignedIn> {
  return signIn(server, await makeUser(server, roles));
}
