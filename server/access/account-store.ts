// Persistence of organisations, users and their roles, login sessions, API
// tokens and set-up links. Every change is written with its audit entry in the
// same transaction: a change whose audit entry cannot be written does not happen.
import type { Db } from '../db/database.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import type { Role, Scope } from './roles.js';

export type OrganisationKind = 'procuratorate' | 'department' | 'higher_procuratorate' | 'sibling_procuratorate' | 'law_office' | 'legal_aid_office' | 'detention_centre';

export interface Organisation {
  id: string;
  name: string;
  nameEn: string;
  kind: OrganisationKind;
  parentId: string | null;
}

export interface UserRecord {
  id: string;
  username: string;
  displayName: string;
  organisationId: string;
  passwordHash: string;
  mustChangePassword: boolean;
  failedLogins: number;
  lockedUntil: string | null;
  disabled: boolean;
  roles: Role[];
  createdAt: string;
}

export interface LoginSessionRecord {
  id: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
  lastSeenAt: string;
  revokedAt: string | null;
  remoteAddress: string | null;
}

export interface ApiTokenRecord {
  id: string;
  name: string;
  organisationId: string | null;
  createdBy: string;
  scopes: Scope[];
  secretHash: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

interface UserRow {
  id: string; username: string; display_name: string; organisation_id: string; password_hash: string;
  must_change_password: number; failed_logins: number; locked_until: string | null; disabled: number; created_at: string;
}
interface TokenRow {
  id: string; name: string; organisation_id: string | null; created_by: string; scopes: string; secret_hash: string;
  created_at: string; expires_at: string | null; revoked_at: string | null; last_used_at: string | null;
}

/** An administrator's lock lasts until an administrator unlocks the account. */
export const ADMIN_LOCK_UNTIL = '9999-12-31T23:59:59.000Z';

export class AccountStore {
  constructor(private readonly db: Db, private readonly audit: AuditTrail) {}

  // Organisations -----------------------------------------------------------
  organisations(): Organisation[] {
    return (this.db.prepare('SELECT * FROM organisations ORDER BY id').all() as Array<{ id: string; name: string; name_en: string; kind: OrganisationKind; parent_id: string | null }>).map(
      (r) => ({ id: r.id, name: r.name, nameEn: r.name_en, kind: r.kind, parentId: r.parent_id })
    );
  }

  organisation(id: string): Organisation | null {
    return this.organisations().find((o) => o.id === id) ?? null;
  }

  addOrganisation(o: Organisation, actor: string): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO organisations (id, name, name_en, kind, parent_id) VALUES (?, ?, ?, ?, ?)').run(o.id, o.name, o.nameEn, o.kind, o.parentId);
      this.audit.append({ actor, action: 'organisation.created', subject: `organisation:${o.id}`, detail: { ...o } });
    })();
  }

  // Users -------------------------------------------------------------------
  private rolesOf(userId: string): Role[] {
    return (this.db.prepare('SELECT role FROM user_roles WHERE user_id = ? ORDER BY role').all(userId) as Array<{ role: Role }>).map((r) => r.role);
  }

  private userOf(r: UserRow | undefined): UserRecord | null {
    if (!r) return null;
    return {
      id: r.id, username: r.username, displayName: r.display_name, organisationId: r.organisation_id, passwordHash: r.password_hash,
      mustChangePassword: r.must_change_password === 1, failedLogins: r.failed_logins, lockedUntil: r.locked_until,
      disabled: r.disabled === 1, roles: this.rolesOf(r.id), createdAt: r.created_at,
    };
  }

  userByName(username: string): UserRecord | null {
    return this.userOf(this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined);
  }

  user(id: string): UserRecord | null {
    return this.userOf(this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined);
  }

  users(): UserRecord[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map((r) => this.userOf(r) as UserRecord);
  }

  countWithRole(role: Role): number {
    return (this.db.prepare('SELECT count(*) AS n FROM user_roles r JOIN users u ON u.id = r.user_id WHERE r.role = ? AND u.disabled = 0').get(role) as { n: number }).n;
  }

  createUser(u: { id: string; username: string; displayName: string; organisationId: string; passwordHash: string; mustChangePassword: boolean; roles: readonly Role[] }, actor: string): void {
    this.db.transaction(() => {
      const now = new Date().toISOString();
      this.db
        .prepare('INSERT INTO users (id, username, display_name, organisation_id, password_hash, must_change_password, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(u.id, u.username, u.displayName, u.organisationId, u.passwordHash, u.mustChangePassword ? 1 : 0, now, now);
      for (const role of u.roles) this.db.prepare('INSERT INTO user_roles (user_id, role) VALUES (?, ?)').run(u.id, role);
      this.audit.append({ actor, action: 'user.created', subject: `user:${u.id}`, detail: { username: u.username, displayName: u.displayName, organisationId: u.organisationId, roles: [...u.roles] } });
    })();
  }

  updateUser(id: string, patch: { displayName?: string; organisationId?: string; roles?: readonly Role[]; disabled?: boolean; locked?: boolean }, actor: string): void {
    this.db.transaction(() => {
      const now = new Date().toISOString();
      if (patch.displayName !== undefined) this.db.prepare('UPDATE users SET display_name = ?, updated_at = ? WHERE id = ?').run(patch.displayName, now, id);
      if (patch.organisationId !== undefined) this.db.prepare('UPDATE users SET organisation_id = ?, updated_at = ? WHERE id = ?').run(patch.organisationId, now, id);
      if (patch.disabled !== undefined) this.db.prepare('UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?').run(patch.disabled ? 1 : 0, now, id);
      if (patch.roles !== undefined) {
        this.db.prepare('DELETE FROM user_roles WHERE user_id = ?').run(id);
        for (const role of patch.roles) this.db.prepare('INSERT INTO user_roles (user_id, role) VALUES (?, ?)').run(id, role);
      }
      // Locked by an administrator: until unlocked (a lock-out after failed logins ends by itself).
      if (patch.locked === true) this.db.prepare('UPDATE users SET locked_until = ?, updated_at = ? WHERE id = ?').run(ADMIN_LOCK_UNTIL, now, id);
      if (patch.locked === false) this.db.prepare('UPDATE users SET locked_until = NULL, failed_logins = 0, updated_at = ? WHERE id = ?').run(now, id);
      if (patch.disabled || patch.locked) this.revokeSessionsIn(id, now);
      this.audit.append({ actor, action: 'user.changed', subject: `user:${id}`, detail: { ...patch, ...(patch.roles ? { roles: [...patch.roles] } : {}) } });
    })();
  }

  setPassword(id: string, passwordHash: string, mustChange: boolean, actor: string, action: 'user.password_changed' | 'user.password_reset'): void {
    this.db.transaction(() => {
      const now = new Date().toISOString();
      this.db
        .prepare('UPDATE users SET password_hash = ?, must_change_password = ?, failed_logins = 0, locked_until = NULL, updated_at = ? WHERE id = ?')
        .run(passwordHash, mustChange ? 1 : 0, now, id);
      this.audit.append({ actor, action, subject: `user:${id}` });
    })();
  }

  /** A failed login of a known user: counts it, locks the account at the limit. */
  loginFailed(userId: string, lockUntil: string | null, detail: Record<string, unknown>): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE users SET failed_logins = failed_logins + 1, locked_until = coalesce(?, locked_until) WHERE id = ?').run(lockUntil, userId);
      this.audit.append({ actor: `user:${userId}`, action: 'auth.login_failed', subject: `user:${userId}`, detail });
      if (lockUntil) this.audit.append({ actor: 'system', action: 'user.locked', subject: `user:${userId}`, detail: { until: lockUntil } });
    })();
  }

  /** Only the audit entry (unknown user, throttled address). */
  auditOnly(actor: string, action: string, subject: string, detail: Record<string, unknown>): void {
    this.audit.append({ actor, action, subject, detail });
  }

  // Login sessions ------------------------------------------------------------
  openLoginSession(s: { id: string; userId: string; expiresAt: string; remoteAddress: string; userAgent: string }): void {
    this.db.transaction(() => {
      const now = new Date().toISOString();
      this.db.prepare('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?').run(s.userId);
      this.db
        .prepare('INSERT INTO login_sessions (id, user_id, created_at, expires_at, last_seen_at, remote_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(s.id, s.userId, now, s.expiresAt, now, s.remoteAddress, s.userAgent.slice(0, 256));
      // The audit trail names the session by a prefix of its (hashed) id, never the cookie.
      this.audit.append({ actor: `user:${s.userId}`, action: 'auth.login', subject: `user:${s.userId}`, detail: { session: s.id.slice(0, 12), remoteAddress: s.remoteAddress } });
    })();
  }

  loginSession(id: string): LoginSessionRecord | null {
    const r = this.db.prepare('SELECT * FROM login_sessions WHERE id = ?').get(id) as
      | { id: string; user_id: string; created_at: string; expires_at: string; last_seen_at: string; revoked_at: string | null; remote_address: string | null }
      | undefined;
    return r ? { id: r.id, userId: r.user_id, createdAt: r.created_at, expiresAt: r.expires_at, lastSeenAt: r.last_seen_at, revokedAt: r.revoked_at, remoteAddress: r.remote_address } : null;
  }

  touchLoginSession(id: string, at: string): void {
    this.db.prepare('UPDATE login_sessions SET last_seen_at = ? WHERE id = ?').run(at, id);
  }

  closeLoginSession(id: string, userId: string, actor: string): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE login_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(new Date().toISOString(), id);
      this.audit.append({ actor, action: 'auth.logout', subject: `user:${userId}`, detail: { session: id.slice(0, 12) } });
    })();
  }

  private revokeSessionsIn(userId: string, now: string): number {
    return this.db.prepare('UPDATE login_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL').run(now, userId).changes;
  }

  /** Logout everywhere: every open login session of the user ends. */
  closeAllLoginSessions(userId: string, actor: string): number {
    return this.db.transaction(() => {
      const n = this.revokeSessionsIn(userId, new Date().toISOString());
      this.audit.append({ actor, action: 'auth.logout_everywhere', subject: `user:${userId}`, detail: { sessions: n } });
      return n;
    })();
  }

  openLoginSessions(userId: string, now: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM login_sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?').get(userId, now) as { n: number }).n;
  }

  // API tokens ----------------------------------------------------------------
  private tokenOf(r: TokenRow | undefined): ApiTokenRecord | null {
    if (!r) return null;
    return {
      id: r.id, name: r.name, organisationId: r.organisation_id, createdBy: r.created_by, scopes: JSON.parse(r.scopes) as Scope[],
      secretHash: r.secret_hash, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at, lastUsedAt: r.last_used_at,
    };
  }

  createToken(t: Omit<ApiTokenRecord, 'createdAt' | 'revokedAt' | 'lastUsedAt'>, actor: string): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO api_tokens (id, name, organisation_id, created_by, scopes, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(t.id, t.name, t.organisationId, t.createdBy, JSON.stringify(t.scopes), t.secretHash, new Date().toISOString(), t.expiresAt);
      this.audit.append({ actor, action: 'token.issued', subject: `token:${t.id}`, detail: { name: t.name, scopes: t.scopes, organisationId: t.organisationId, expiresAt: t.expiresAt } });
    })();
  }

  token(id: string): ApiTokenRecord | null {
    return this.tokenOf(this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as TokenRow | undefined);
  }

  tokens(): ApiTokenRecord[] {
    return (this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at').all() as TokenRow[]).map((r) => this.tokenOf(r) as ApiTokenRecord);
  }

  revokeToken(id: string, actor: string): boolean {
    return this.db.transaction(() => {
      const changed = this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(new Date().toISOString(), id).changes > 0;
      if (changed) this.audit.append({ actor, action: 'token.revoked', subject: `token:${id}` });
      return changed;
    })();
  }

  touchToken(id: string, at: string): void {
    this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(at, id);
  }

  // Set-up links (the first administrator) -----------------------------------
  createSetupLink(id: string, expiresAt: string): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO setup_links (id, created_at, expires_at) VALUES (?, ?, ?)').run(id, new Date().toISOString(), expiresAt);
      this.audit.append({ actor: 'system', action: 'setup.link_issued', subject: `setup:${id.slice(0, 12)}`, detail: { expiresAt } });
    })();
  }

  /** Marks the link used; false when it is unknown, used or expired. */
  useSetupLink(id: string, now: string): boolean {
    return this.db.prepare('UPDATE setup_links SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?').run(now, id, now).changes === 1;
  }
}

/** Runs `fn` in one transaction (the store's own writes nest inside it). */
export function inTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn)();
}
