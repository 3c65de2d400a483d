// The administrator page (/admin) in real headless Chromium, signed in for real
// (the login page, argon2id, session cookie, CSRF): people are created with an
// organisation and roles (the one-time password shown once works, and must be
// changed), reset, locked and unlocked, disabled, logged out everywhere; API
// tokens are issued with scopes (shown once, working) and revoked (then
// refused); room-agent credentials rotated (the new one admits the agent, the
// old one not) and revoked. Each click is checked against the server's own
// answer, not against the page. Role and scope choices come from the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, waitFor } from './helpers/server.js';
import { launchBrowser } from './helpers/browser.js';
import { call } from './helpers/http.js';
import { connect } from './helpers/client.js';
import { ensureOrganisation, login, makeUser, signIn, type TestUser } from './helpers/accounts.js';
import { allRoles, allScopes } from '../server/access/roles.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let browser: Browser;
let page: Page;
let admin: TestUser;
let tempPassword = '';
const ROOM = 'interrogation-1';

const input = (p: Page, attr: string) => p.locator(`input[${attr}], [${attr}] input`).first();

/** Confirms Element Plus's message box. */
async function confirmBox(p: Page): Promise<void> {
  const ok = p.locator('.el-message-box__btns .el-button--primary');
  await ok.waitFor({ timeout: 10_000 });
  await ok.click();
  await ok.waitFor({ state: 'hidden', timeout: 10_000 });
}

/** The value of the one-time secret dialog, then closes it. */
async function takeSecret(p: Page): Promise<string> {
  const value = p.getByTestId('secret-value');
  await waitFor('secret shown', async () => ((await value.textContent()) ?? '').trim());
  const text = ((await value.textContent()) ?? '').trim();
  await p.getByTestId('secret-close').click();
  await waitFor('secret dialog closed', async () => ((await value.textContent().catch(() => '')) ?? '').trim() === '');
  return text;
}

const userOf = (username: string) => server.accounts.store.userByName(username)!;

beforeAll(async () => {
  server = await startTestServer({ rooms: 2, standingSessions: false });
  ensureOrganisation(server);
  server.accounts.store.addOrganisation({ id: 'legal-aid', name: '区法律援助中心', nameEn: 'Legal-aid office', kind: 'legal_aid_office', parentId: null }, 'test');
  admin = await makeUser(server, ['administrator'], { displayName: '管理员甲' });
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
  page = await context.newPage();
  page.on('pageerror', (err) => process.stderr.write(`[admin page error] ${err.message}\n`));
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.cleanup();
});

describe('administrator page', () => {
  it('sends a visitor to sign in, and signs the administrator in on the login page', async () => {
    await page.goto(`${server.url}/admin`);
    await page.waitForURL(/\/login\?next=%2Fadmin/, { timeout: 20_000 });
    await input(page, 'data-test="username"').fill(admin.username);
    await input(page, 'data-test="password"').fill(admin.password);
    await page.locator('[data-test="submit"]').click();
    await page.waitForURL(/\/admin$/, { timeout: 20_000 });
    await page.waitForFunction(() => window.__pleaAdmin?.loaded(), undefined, { timeout: 20_000 });
    // Chinese by default; the choices are the server's lists.
    await expect(page.locator('h1').textContent()).resolves.toBe('系统管理');
    expect(await page.evaluate(() => window.__pleaAdmin!.roles())).toEqual([...allRoles]);
    expect(await page.evaluate(() => window.__pleaAdmin!.scopes())).toEqual([...allScopes]);
  });

  it('creates a person with an organisation and roles; the one-time password shown once signs them in and must be changed', async () => {
    await page.getByTestId('user-add').click();
    await input(page, 'data-testid="user-username"').fill('dutylawyer9');
    await input(page, 'data-testid="user-display-name"').fill('值班律师 九');
    await page.getByTestId('user-organisation').click();
    await page.locator('.el-select-dropdown__item', { hasText: '区法律援助中心' }).click();
    await page.getByTestId('role-duty_lawyer').click();
    await page.getByTestId('user-submit').click();
    tempPassword = await takeSecret(page);
    const u = userOf('dutylawyer9');
    expect(u).toMatchObject({ displayName: '值班律师 九', organisationId: 'legal-aid', roles: ['duty_lawyer'], mustChangePassword: true });
    const out = await login(server.url, 'dutylawyer9', tempPassword);
    expect(out.status).toBe(200);
    expect((out.body['user'] as { mustChangePassword: boolean }).mustChangePassword).toBe(true);
    await page.locator('[data-testid="user-row"][data-username="dutylawyer9"]').waitFor();
  });

  it('changes roles', async () => {
    await page.getByTestId('user-edit-dutylawyer9').click();
    await page.getByTestId('role-defence_lawyer').click();
    await page.getByTestId('user-submit').click();
    await waitFor('roles changed', () => userOf('dutylawyer9').roles.join() === 'defence_lawyer,duty_lawyer');
  });

  it('locks (sign-in refused, sessions ended) and unlocks (sign-in works again)', async () => {
    const live = await login(server.url, 'dutylawyer9', tempPassword);
    const cookie = live.setCookie!.split(';')[0]!;
    await page.getByTestId('user-lock-dutylawyer9').click();
    await confirmBox(page);
    await page.locator('[data-testid="user-state-dutylawyer9"][data-locked="true"]').waitFor({ timeout: 10_000 });
    expect((await login(server.url, 'dutylawyer9', tempPassword)).body['error']).toBe('account_locked');
    expect((await fetch(`${server.url}/api/auth/me`, { headers: { cookie } })).status).toBe(401);
    await page.getByTestId('user-lock-dutylawyer9').click();
    await page.locator('[data-testid="user-state-dutylawyer9"][data-locked="false"]').waitFor({ timeout: 10_000 });
    expect((await login(server.url, 'dutylawyer9', tempPassword)).status).toBe(200);
  });

  it('resets the password: the old one stops working, the new one (shown once) must be changed', async () => {
    await page.getByTestId('user-reset-dutylawyer9').click();
    await confirmBox(page);
    const fresh = await takeSecret(page);
    expect(fresh).not.toBe(tempPassword);
    expect((await login(server.url, 'dutylawyer9', tempPassword)).status).toBe(401);
    const out = await login(server.url, 'dutylawyer9', fresh);
    expect(out.status).toBe(200);
    expect((out.body['user'] as { mustChangePassword: boolean }).mustChangePassword).toBe(true);
    tempPassword = fresh;
  });

  it('logs a person out everywhere', async () => {
    const someone = await makeUser(server, ['prosecutor'], { username: 'prosecutor9' });
    const s = await signIn(server, someone);
    expect((await s.call('GET', '/api/auth/me')).status).toBe(200);
    await page.locator('.toolbar .el-button', { hasText: '刷新' }).click();
    await page.getByTestId('user-logout-prosecutor9').click();
    await confirmBox(page);
    await waitFor('logged out', async () => (await s.call('GET', '/api/auth/me')).status === 401);
  });

  it('disables a person (sign-in refused) and enables them again', async () => {
    await page.getByTestId('user-disable-dutylawyer9').click();
    await confirmBox(page);
    await page.locator('[data-testid="user-state-dutylawyer9"][data-disabled="true"]').waitFor({ timeout: 10_000 });
    expect((await login(server.url, 'dutylawyer9', tempPassword)).body['error']).toBe('account_disabled');
    await page.getByTestId('user-disable-dutylawyer9').click();
    await page.locator('[data-testid="user-state-dutylawyer9"][data-disabled="false"]').waitFor({ timeout: 10_000 });
    expect((await login(server.url, 'dutylawyer9', tempPassword)).status).toBe(200);
  });

  it('issues an API token with scopes (shown once, it works) and the revoke button revokes it', async () => {
    await page.locator('.el-tabs__item', { hasText: 'API 令牌' }).click();
    await page.getByTestId('token-add').click();
    await input(page, 'data-testid="token-name"').fill('case-system');
    await page.getByTestId('scope-site:read').click();
    await page.getByTestId('token-submit').click();
    const token = await takeSecret(page);
    expect(token).toMatch(/^plt_/);
    const stored = server.accounts.store.tokens().find((tk) => tk.name === 'case-system')!;
    expect(stored.scopes).toEqual(['site:read']);
    expect((await call(server.url, 'GET', '/api/site', undefined, token)).status).toBe(200);
    // The scope is what was chosen, no more.
    expect((await call(server.url, 'GET', '/api/audit/verify', undefined, token)).status).toBe(403);

    await page.getByTestId('token-revoke-case-system').click();
    await confirmBox(page);
    await page.locator('[data-testid="token-row"][data-name="case-system"][data-revoked="true"]').waitFor({ timeout: 10_000 });
    expect((await call(server.url, 'GET', '/api/site', undefined, token)).status).toBe(401);
    expect(server.accounts.store.token(stored.id)!.revokedAt).not.toBeNull();
  });

  it('rotates a room agent credential (shown once: the new one admits the agent, the old one not) and revokes it', async () => {
    const old = server.agentCredentials.get(ROOM)!;
    await page.locator('.el-tabs__item', { hasText: '房间终端凭证' }).click();
    await page.getByTestId(`agent-rotate-${ROOM}`).click();
    await confirmBox(page);
    const fresh = await takeSecret(page);
    expect(fresh).not.toBe(old);
    await expect(connect(server.url, { kind: 'agent', roomId: ROOM, credential: old })).rejects.toThrow(/wrong agent credential/);
    const agent = await connect(server.url, { kind: 'agent', roomId: ROOM, credential: fresh });
    const dropped = new Promise<string>((resolve) => agent.once('disconnect', (reason) => resolve(reason)));

    await page.getByTestId(`agent-revoke-${ROOM}`).click();
    await confirmBox(page);
    await page.locator(`[data-testid="agent-row"][data-room="${ROOM}"][data-has-credential="false"]`).waitFor({ timeout: 10_000 });
    expect(await dropped).toBe('io server disconnect');
    await expect(connect(server.url, { kind: 'agent', roomId: ROOM, credential: fresh })).rejects.toThrow(/wrong agent credential/);
    const actions = (server.db.prepare("SELECT action FROM audit_entries WHERE action LIKE 'agent.credential_%'").all() as Array<{ action: string }>).map((r) => r.action);
    expect(actions).toEqual(['agent.credential_rotated', 'agent.credential_revoked']);
  });

  it('binds a room agent credential to the room PC\'s addresses in a dialog (refused from elsewhere), and unbinds it', async () => {
    const credential = server.agentCredentials.rotate(ROOM, 'user:test');
    await page.reload();
    await page.locator('.el-tabs__item', { hasText: '房间终端凭证' }).click();
    await page.getByTestId(`agent-bind-${ROOM}`).click();
    const input = page.locator('.el-message-box input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill('192.0.2.15, 192.0.2.0/28');
    await confirmBox(page);
    await page.getByTestId(`agent-addresses-${ROOM}`).filter({ hasText: '192.0.2.15, 192.0.2.0/28' }).waitFor({ timeout: 10_000 });
    expect(server.agentCredentials.addresses(ROOM)).toEqual(['192.0.2.15', '192.0.2.0/28']);
    await expect(connect(server.url, { kind: 'agent', roomId: ROOM, credential })).rejects.toThrow(/bound to other addresses/);
    await page.getByTestId(`agent-bind-${ROOM}`).click();
    await input.waitFor({ timeout: 10_000 });
    await input.fill('');
    await confirmBox(page);
    await page.getByTestId(`agent-addresses-${ROOM}`).filter({ hasText: '任意地址' }).waitFor({ timeout: 10_000 });
    expect(server.agentCredentials.addresses(ROOM)).toEqual([]);
    (await connect(server.url, { kind: 'agent', roomId: ROOM, credential })).close();
  });

  it('appoints a department head (only a prosecutor of that department is offered) and removes them', async () => {
    server.accounts.store.addOrganisation({ id: 'dept-9', name: '第九检察部', nameEn: 'Ninth department', kind: 'department', parentId: 'site' }, 'test');
    await makeUser(server, ['prosecutor'], { id: 'P-NINE', organisationId: 'dept-9', displayName: '检察官 九号' });
    await page.locator('.el-tabs__item', { hasText: '部门负责人' }).click();
    await page.locator('[data-testid="department-row"][data-id="dept-9"]').waitFor({ timeout: 10_000 });
    await page.getByTestId('department-head-choice-dept-9').click();
    const options = page.locator('.el-select-dropdown__item:visible');
    await options.first().waitFor({ timeout: 10_000 });
    await expect(options.allTextContents()).resolves.toEqual(['检察官 九号']);
    await options.first().click();
    await page.getByTestId('department-appoint-dept-9').click();
    await page.locator('[data-testid="department-row"][data-id="dept-9"][data-head="P-NINE"]').waitFor({ timeout: 10_000 });
    expect(server.departments.head('dept-9')?.userId).toBe('P-NINE');
    await page.getByTestId('department-remove-head-dept-9').click();
    await confirmBox(page);
    await page.locator('[data-testid="department-row"][data-id="dept-9"][data-head=""]').waitFor({ timeout: 10_000 });
    expect(server.departments.head('dept-9')).toBeNull();
  });

  it('shows English too, and tells a signed-in non-administrator the page is not theirs (the server refuses them anyway)', async () => {
    await page.locator('[data-testid="language-switch"] label', { hasText: 'EN' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('Administration');
    const pros = await signIn(server, await makeUser(server, ['prosecutor']));
    const other = await browser.newContext();
    const [name, value] = pros.cookie.split('=') as [string, string];
    await other.addCookies([{ name, value, url: server.url }]);
    const p2 = await other.newPage();
    await p2.goto(`${server.url}/admin`);
    await p2.getByTestId('not-admin').waitFor({ timeout: 20_000 });
    expect((await pros.call('GET', '/api/admin/users')).status).toBe(403);
    await other.close();
  });
});
