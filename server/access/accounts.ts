// Accounts: signing in and out, login sessions behind cookies, API tokens for
// machine clients, CSRF tokens for cookie-authenticated writes, and the
// administrator's management of people and tokens.
//
// Secrets never stored as given: a login session is kept by the SHA-256 of its
// cookie secret, an API token by the SHA-256 of its secret part, a password by
// its argon2id hash. Failed logins count per account (lock-out) and per address
// (throttle); every outcome is audited.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import { DomainError } from '../errors.js';
import { AccountStore, inTransaction, type ApiTokenRecord, type Organisation, type UserRecord } from './account-store.js';
import { hashPassword, passwordProblem, verifyNothing, verifyPassword } from './passwords.js';
import type { Principal } from './authorization.js';
import type { Role, Scope } from './roles.js';

export interface AccountPolicy {
  /** A login session ends this long after sign-in, whatever happens. */
  sessionHours: number;
  /** …and after this long without a request. */
  idleMinutes: number;
  /** Consecutive failed logins that lock an account… */
  lockAfterFailures: number;
  /** …for this long. */
  lockMinutes: number;
  /** Failed logins from one address within `throttleWindowMinutes` before it is refused for a while (429). */
  throttleFailures: number;
  throttleWindowMinutes: number;
}

export const defaultPolicy: AccountPolicy = { sessionHours: 10, idleMinutes: 60, lockAfterFailures: 5, lockMinutes: 15, throttleFailures: 20, throttleWindowMinutes: 10 };

export interface UserView {
  id: string;
  username: string;
  displayName: string;
  organisationId: string;
  roles: Role[];
  mustChangePassword: boolean;
  disabled: boolean;
  locked: boolean;
}

export interface TokenView {
  id: string;
  name: string;
  organisationId: string | null;
  scopes: Scope[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export type LoginOutcome = { ok: true; cookieValue: string; user: UserView; expiresAt: Date } | { ok: false; status: 401 | 429; code: string; message: string };

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const tokenPattern = /^plt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A readable one-time password: 4 groups of 4 from an alphabet without look-alikes. */
export function temporaryPassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY3479';
  const bytes = randomBytes(16);
  let out = '';
  for (let i = 0; i < 16; i++) out += alphabet[(bytes[i] as number) % alphabet.length];
  return out.match(/.{4}/g)!.join('-');
}

export class Accounts {
  readonly store: AccountStore;
  /** Whether an open booking names this person id (set by the server once the schedule exists). */
  namedOnOpenBooking: (personId: string) => boolean;
  /** Address → times of recent failed logins (a Map: addresses are outside strings). */
  private readonly failuresByAddress = new Map<string, number[]>();
  private readonly personListeners: Array<(userId: string) => void> = [];

  constructor(
    private readonly db: Db,
    store: AccountStore,
    private readonly csrfKey: string,
    private readonly log: Logger,
    private readonly policy: AccountPolicy = defaultPolicy,
    private readonly now: () => Date = () => new Date()
  ) {
    this.store = store;
    this.namedOnOpenBooking = () => false;
  }

  static view(u: UserRecord, now = new Date()): UserView {
    return {
      id: u.id, username: u.username, displayName: u.displayName, organisationId: u.organisationId, roles: [...u.roles],
      mustChangePassword: u.mustChangePassword, disabled: u.disabled, locked: !!u.lockedUntil && new Date(u.lockedUntil) > now,
    };
  }

  // Signing in ----------------------------------------------------------------
  private throttled(address: string): boolean {
    const since = this.now().getTime() - this.policy.throttleWindowMinutes * 60_000;
    const recent = (this.failuresByAddress.get(address) ?? []).filter((t) => t > since);
    if (recent.length) this.failuresByAddress.set(address, recent);
    else this.failuresByAddress.delete(address);
    return recent.length >= this.policy.throttleFailures;
  }

  private noteFailure(address: string): void {
    const list = this.failuresByAddress.get(address) ?? [];
    list.push(this.now().getTime());
    this.failuresByAddress.set(address, list);
    // Bounded memory under a spray from many addresses.
    if (this.failuresByAddress.size > 10_000) {
      const oldest = this.failuresByAddress.keys().next().value;
      if (oldest !== undefined) this.failuresByAddress.delete(oldest);
    }
  }

  async login(username: string, password: string, from: { remoteAddress: string; userAgent: string }): Promise<LoginOutcome> {
    const refused = { ok: false as const, status: 401 as const, code: 'login_failed', message: 'wrong username or password' };
    const detail = { username: username.slice(0, 64), remoteAddress: from.remoteAddress };
    if (this.throttled(from.remoteAddress)) {
      this.store.auditOnly('anonymous', 'auth.login_throttled', `address:${from.remoteAddress}`, detail);
      return { ok: false, status: 429, code: 'too_many_attempts', message: `too many failed logins from this address; try again in ${this.policy.throttleWindowMinutes} minutes` };
    }
    const user = this.store.userByName(username);
    if (!user) {
      await verifyNothing(password);
      this.noteFailure(from.remoteAddress);
      this.store.auditOnly('anonymous', 'auth.login_failed', `username:${username.slice(0, 64)}`, { ...detail, reason: 'unknown_user' });
      return refused;
    }
    const now = this.now();
    if (user.lockedUntil && new Date(user.lockedUntil) > now) {
      await verifyNothing(password);
      this.noteFailure(from.remoteAddress);
      this.store.auditOnly(`user:${user.id}`, 'auth.login_failed', `user:${user.id}`, { ...detail, reason: 'locked' });
      return { ok: false, status: 401, code: 'account_locked', message: `this account is locked after repeated failed logins until ${user.lockedUntil}` };
    }
    const good = await verifyPassword(user.passwordHash, password);
    if (!good || user.disabled) {
      this.noteFailure(from.remoteAddress);
      const lock = good ? null : user.failedLogins + 1 >= this.policy.lockAfterFailures ? new Date(now.getTime() + this.policy.lockMinutes * 60_000).toISOString() : null;
      this.store.loginFailed(user.id, lock, { ...detail, reason: good ? 'disabled' : 'wrong_password' });
      return user.disabled && good ? { ok: false, status: 401, code: 'account_disabled', message: 'this account is disabled' } : refused;
    }
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.policy.sessionHours * 3600_000);
    this.store.openLoginSession({ id: sha256(secret), userId: user.id, expiresAt: expiresAt.toISOString(), remoteAddress: from.remoteAddress, userAgent: from.userAgent });
    return { ok: true, cookieValue: secret, user: Accounts.view(user, now), expiresAt };
  }

  /** The person a session cookie (its unsigned value) signs in, or null. */
  principalForSession(cookieValue: string): Principal | null {
    if (!/^[A-Za-z0-9_-]{43}$/.test(cookieValue)) return null;
    return this.principalForLoginSession(sha256(cookieValue), true);
  }

  /**
   * The person of a login session (by its id), or null once it ended (signed out,
   * expired, idle, the account disabled). `touch`: counts as activity (a request);
   * a live socket's re-check does not, so an open page alone never keeps a session alive.
   */
  principalForLoginSession(id: string, touch = false): Extract<Principal, { kind: 'user' }> | null {
    const s = this.store.loginSession(id);
    if (!s || s.revokedAt) return null;
    const now = this.now();
    if (new Date(s.expiresAt) <= now) return null;
    if (now.getTime() - new Date(s.lastSeenAt).getTime() > this.policy.idleMinutes * 60_000) return null;
    const user = this.store.user(s.userId);
    if (!user || user.disabled) return null;
    // Sliding idle time, written at most once a minute.
    if (touch && now.getTime() - new Date(s.lastSeenAt).getTime() > 60_000) this.store.touchLoginSession(id, now.toISOString());
    return {
      kind: 'user', userId: user.id, username: user.username, displayName: user.displayName, organisationId: user.organisationId,
      roles: user.roles, loginSessionId: id, mustChangePassword: user.mustChangePassword,
    };
  }

  /** The machine client an `Authorization: Bearer plt_…` token names, or null. */
  principalForApiToken(token: string): Principal | null {
    const m = tokenPattern.exec(token);
    if (!m) return null;
    const t = this.store.token(m[1] as string);
    if (!t || t.revokedAt) return null;
    if (!sameText(t.secretHash, sha256(m[2] as string))) return null;
    const now = this.now();
    if (t.expiresAt && new Date(t.expiresAt) <= now) return null;
    if (!t.lastUsedAt || now.getTime() - new Date(t.lastUsedAt).getTime() > 60_000) this.store.touchToken(t.id, now.toISOString());
    return { kind: 'api-token', tokenId: t.id, name: t.name, ownerId: t.createdBy, scopes: t.scopes };
  }

  static looksLikeApiToken(token: string): boolean {
    return token.startsWith('plt_');
  }

  // CSRF: a token bound to the login session (synchronizer token). The page
  // gets it from /api/auth/me and sends it as x-csrf-token on every write.
  csrfToken(p: Extract<Principal, { kind: 'user' }>): string {
    return createHmac('sha256', this.csrfKey).update(`csrf:${p.loginSessionId}`).digest('base64url');
  }

  csrfValid(p: Extract<Principal, { kind: 'user' }>, given: string | undefined): boolean {
    return typeof given === 'string' && sameText(this.csrfToken(p), given);
  }

  /**
   * `listener(userId)` runs after something may have ended login sessions of the
   * person or changed what they may do (logout, logout everywhere, password changed
   * or reset, account updated): live sockets re-check who they speak for.
   */
  onPersonChanged(listener: (userId: string) => void): void {
    this.personListeners.push(listener);
  }

  private personChanged(userId: string): void {
    for (const l of this.personListeners) {
      try {
        l(userId);
      } catch (err) {
        this.log.error({ err }, 'a listener of account changes failed');
      }
    }
  }

  logout(p: Extract<Principal, { kind: 'user' }>): void {
    this.store.closeLoginSession(p.loginSessionId, p.userId, `user:${p.username}`);
    this.personChanged(p.userId);
  }

  logoutEverywhere(userId: string, actor: string): number {
    if (!this.store.user(userId)) throw new DomainError(404, 'not_found', `no user ${userId}`);
    const n = this.store.closeAllLoginSessions(userId, actor);
    this.personChanged(userId);
    return n;
  }

  async changePassword(p: Extract<Principal, { kind: 'user' }>, current: string, next: string): Promise<void> {
    const user = this.store.user(p.userId);
    if (!user) throw new DomainError(404, 'not_found', 'no such user');
    if (!(await verifyPassword(user.passwordHash, current))) {
      this.store.auditOnly(`user:${user.username}`, 'user.password_change_refused', `user:${user.id}`, { reason: 'wrong current password' });
      throw new DomainError(403, 'wrong_password', 'the current password is wrong');
    }
    const problem = passwordProblem(next, user.username);
    if (problem) throw new DomainError(400, 'weak_password', problem);
    if (await verifyPassword(user.passwordHash, next)) throw new DomainError(400, 'weak_password', 'the new password must differ from the current one');
    const hash = await hashPassword(next);
    inTransaction(this.db, () => {
      this.store.setPassword(user.id, hash, false, `user:${user.username}`, 'user.password_changed');
      // Every other login session of the person ends with the old password.
      this.db.prepare('UPDATE login_sessions SET revoked_at = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL').run(this.now().toISOString(), user.id, p.loginSessionId);
    });
    this.personChanged(user.id);
  }

  // Administration ------------------------------------------------------------
  private checkRolesAndOrganisation(roles: readonly Role[] | undefined, organisationId: string | undefined): void {
    if (organisationId !== undefined && !this.store.organisation(organisationId)) throw new DomainError(400, 'bad_request', `no organisation ${organisationId}`);
    if (roles !== undefined && new Set(roles).size !== roles.length) throw new DomainError(400, 'bad_request', 'a role is named twice');
  }

  async createUser(input: { id?: string; username: string; displayName: string; organisationId: string; roles: readonly Role[]; password?: string }, actor: string): Promise<{ user: UserView; temporaryPassword: string | null }> {
    this.checkRolesAndOrganisation(input.roles, input.organisationId);
    if (this.store.userByName(input.username)) throw new DomainError(409, 'conflict', `the username ${input.username} is taken`);
    const id = input.id ?? randomUUID();
    if (this.store.user(id)) throw new DomainError(409, 'conflict', `the user id ${id} is taken`);
    // Bookings name people by id: a new account with the id of someone already
    // booked (a defence lawyer without an account, who joins by guest link)
    // would take that person's right to join. Such an id is refused; the
    // account is made first and booked under its id.
    if (input.id !== undefined && this.namedOnOpenBooking(id)) {
      this.store.auditOnly(actor, 'user.create_refused', `user:${id}`, { username: input.username, reason: 'id_on_bookings' });
      throw new DomainError(409, 'id_on_bookings', `bookings already name ${id} (who joins by guest link): give the new account another id`);
    }
    const temp = input.password === undefined ? temporaryPassword() : null;
    const password = input.password ?? (temp as string);
    if (input.password !== undefined) {
      const problem = passwordProblem(input.password, input.username);
      if (problem) throw new DomainError(400, 'weak_password', problem);
    }
    // Whoever sets a password for someone else, that person changes it at first login.
    this.store.createUser({ id, username: input.username, displayName: input.displayName, organisationId: input.organisationId, passwordHash: await hashPassword(password), mustChangePassword: true, roles: input.roles }, actor);
    return { user: Accounts.view(this.store.user(id) as UserRecord), temporaryPassword: temp };
  }

  updateUser(id: string, patch: { displayName?: string; organisationId?: string; roles?: readonly Role[]; disabled?: boolean; locked?: boolean }, actor: string): UserView {
    const user = this.store.user(id);
    if (!user) throw new DomainError(404, 'not_found', `no user ${id}`);
    this.checkRolesAndOrganisation(patch.roles, patch.organisationId);
    const losesAdmin = user.roles.includes('administrator') && ((patch.roles && !patch.roles.includes('administrator')) || patch.disabled === true || patch.locked === true);
    if (losesAdmin && this.store.countWithRole('administrator') <= 1) throw new DomainError(409, 'last_administrator', 'the last administrator cannot lose the role or be disabled');
    this.store.updateUser(id, patch, actor);
    this.personChanged(id);
    return Accounts.view(this.store.user(id) as UserRecord);
  }

  async resetPassword(id: string, actor: string): Promise<string> {
    const user = this.store.user(id);
    if (!user) throw new DomainError(404, 'not_found', `no user ${id}`);
    const temp = temporaryPassword();
    const hash = await hashPassword(temp);
    inTransaction(this.db, () => {
      this.store.setPassword(id, hash, true, actor, 'user.password_reset');
      this.store.closeAllLoginSessions(id, actor);
    });
    this.personChanged(id);
    return temp;
  }

  createToken(input: { name: string; scopes: readonly Scope[]; organisationId?: string | null; expiresInDays?: number }, creator: Extract<Principal, { kind: 'user' }>): { token: string; view: TokenView } {
    if (input.organisationId && !this.store.organisation(input.organisationId)) throw new DomainError(400, 'bad_request', `no organisation ${input.organisationId}`);
    if (new Set(input.scopes).size !== input.scopes.length || input.scopes.length === 0) throw new DomainError(400, 'bad_request', 'name each scope once, at least one');
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = input.expiresInDays ? new Date(this.now().getTime() + input.expiresInDays * 86_400_000).toISOString() : null;
    this.store.createToken({ id, name: input.name, organisationId: input.organisationId ?? null, createdBy: creator.userId, scopes: [...input.scopes], secretHash: sha256(secret), expiresAt }, `user:${creator.username}`);
    return { token: `plt_${id}_${secret}`, view: Accounts.tokenView(this.store.token(id) as ApiTokenRecord) };
  }

  static tokenView(t: ApiTokenRecord): TokenView {
    return { id: t.id, name: t.name, organisationId: t.organisationId, scopes: t.scopes, createdAt: t.createdAt, expiresAt: t.expiresAt, revokedAt: t.revokedAt, lastUsedAt: t.lastUsedAt };
  }

  revokeToken(id: string, actor: string): void {
    if (!this.store.token(id)) throw new DomainError(404, 'not_found', `no API token ${id}`);
    this.store.revokeToken(id, actor);
  }

  addOrganisation(o: Organisation, actor: string): Organisation {
    if (this.store.organisation(o.id)) throw new DomainError(409, 'conflict', `the organisation id ${o.id} is taken`);
    if (o.parentId && !this.store.organisation(o.parentId)) throw new DomainError(400, 'bad_request', `no organisation ${o.parentId}`);
    this.store.addOrganisation(o, actor);
    return o;
  }

  // The first administrator ---------------------------------------------------
  /** With no administrator yet: a one-time set-up link secret (valid a day); else null. */
  setupLink(): string | null {
    if (this.store.countWithRole('administrator') > 0) return null;
    const secret = randomBytes(24).toString('base64url');
    this.store.createSetupLink(sha256(secret), new Date(this.now().getTime() + 86_400_000).toISOString());
    return secret;
  }

  async completeSetup(secret: string, input: { username: string; displayName: string; password: string }, remoteAddress: string): Promise<UserView> {
    const problem = passwordProblem(input.password, input.username);
    if (problem) throw new DomainError(400, 'weak_password', problem);
    const hash = await hashPassword(input.password);
    return inTransaction(this.db, () => {
      if (!this.store.useSetupLink(sha256(secret), this.now().toISOString()) || this.store.countWithRole('administrator') > 0) {
        this.store.auditOnly('anonymous', 'setup.refused', 'setup', { remoteAddress });
        throw new DomainError(403, 'forbidden', 'this set-up link is unknown, used or expired');
      }
      if (!this.store.organisation('site')) this.store.addOrganisation({ id: 'site', name: '本院', nameEn: 'This procuratorate', kind: 'procuratorate', parentId: null }, 'setup');
      const id = randomUUID();
      // The administrator chose this password: no change at first login.
      this.store.createUser({ id, username: input.username, displayName: input.displayName, organisationId: 'site', passwordHash: hash, mustChangePassword: false, roles: ['administrator'] }, 'setup');
      this.db.prepare('UPDATE users SET must_change_password = 0 WHERE id = ?').run(id);
      return Accounts.view(this.store.user(id) as UserRecord);
    });
  }
}
