// People for benchmarks: an account made through the server's own account service
// and signed in over HTTP, so a bench joins a booking's session the real way (by
// account), never with a link minted inside the process.
import { randomBytes } from 'node:crypto';
import type { RunningServer } from '../../server/app.js';
import type { Role } from '../../server/access/roles.js';
import { hashPassword } from '../../server/access/passwords.js';

/** Creates (once) a person with `id` and `roles` and signs them in; returns the session cookie ("name=value"). */
export async function benchPerson(server: Pick<RunningServer, 'url' | 'accounts'>, id: string, roles: Role[]): Promise<string> {
  const store = server.accounts.store;
  if (!store.organisation('bench')) store.addOrganisation({ id: 'bench', name: '本院', nameEn: 'This procuratorate', kind: 'procuratorate', parentId: null }, 'bench');
  const username = `bench-${id}`;
  const password = randomBytes(18).toString('base64url');
  if (store.user(id)) throw new Error(`bench person ${id} exists already`);
  store.createUser({ id, username, displayName: username, organisationId: 'bench', passwordHash: await hashPassword(password), mustChangePassword: false, roles }, 'bench');
  const res = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const cookie = res.headers.get('set-cookie');
  if (res.status !== 200 || !cookie) throw new Error(`bench sign-in refused: ${res.status}`);
  return cookie.split(';')[0] as string;
}
