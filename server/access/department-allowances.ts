// Departments of a procuratorate and their heads' allowances. A department is
// an organisation of kind 'department' (its parentId names the procuratorate).
// An administrator appoints one of its prosecutors its head; the head may allow
// a prosecutor of the department to join the bookings of the department's
// other prosecutors (standing in for a colleague), for a while or until
// revoked. The join rules (join-rules.ts) honour an allowance only while its
// grantor is still the department's head, neither it nor its grantor is
// disabled, revoked or expired, and both prosecutors are still in the
// department. Every change is written with its audit entry in one transaction.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import { DomainError } from '../errors.js';
import type { AccountStore, UserRecord } from './account-store.js';
import type { Principal } from './authorization.js';
import type { DepartmentAllowanceLookup } from './join-rules.js';

type Person = Extract<Principal, { kind: 'user' }>;

export interface DepartmentHead {
  departmentId: string;
  userId: string;
  appointedAt: string;
  appointedBy: string;
}

export interface DepartmentAllowance {
  id: string;
  departmentId: string;
  granteeId: string;
  grantedBy: string;
  grantedAt: string;
  expiresAt: string | null;
  note: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  /** Honoured now: not revoked or expired, and its grantor is still the head. */
  inForce: boolean;
}

interface AllowanceRow {
  id: string; department_id: string; grantee_id: string; granted_by: string; granted_at: string;
  expires_at: string | null; note: string | null; revoked_at: string | null; revoked_by: string | null;
}

export class DepartmentAllowances implements DepartmentAllowanceLookup {
  constructor(private readonly db: Db, private readonly accounts: AccountStore, private readonly audit: AuditTrail, private readonly now: () => Date = () => new Date()) {}

  // Heads ---------------------------------------------------------------------
  head(departmentId: string): DepartmentHead | null {
    const r = this.db.prepare('SELECT * FROM department_heads WHERE department_id = ?').get(departmentId) as
      | { department_id: string; user_id: string; appointed_at: string; appointed_by: string }
      | undefined;
    return r ? { departmentId: r.department_id, userId: r.user_id, appointedAt: r.appointed_at, appointedBy: r.appointed_by } : null;
  }

  private department(id: string) {
    const o = this.accounts.organisation(id);
    if (!o) throw new DomainError(404, 'not_found', `no organisation ${id}`);
    if (o.kind !== 'department') throw new DomainError(400, 'bad_request', `${id} is not a department (it is a ${o.kind})`);
    return o;
  }

  private prosecutorOf(userId: string, departmentId: string, what: string): UserRecord {
    const u = this.accounts.user(userId);
    if (!u) throw new DomainError(404, 'not_found', `no user ${userId}`);
    if (u.organisationId !== departmentId || !u.roles.includes('prosecutor')) throw new DomainError(400, 'bad_request', `${what} must be a prosecutor of ${departmentId}`);
    return u;
  }

  /** An administrator appoints the head; allowances the previous head granted lapse with the change. */
  appointHead(departmentId: string, userId: string, actor: string): DepartmentHead {
    this.department(departmentId);
    this.prosecutorOf(userId, departmentId, 'the head');
    const previous = this.head(departmentId);
    const at = this.now().toISOString();
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO department_heads (department_id, user_id, appointed_at, appointed_by) VALUES (?, ?, ?, ?) ON CONFLICT(department_id) DO UPDATE SET user_id = excluded.user_id, appointed_at = excluded.appointed_at, appointed_by = excluded.appointed_by')
        .run(departmentId, userId, at, actor);
      this.audit.append({ actor, action: 'department.head_appointed', subject: `organisation:${departmentId}`, detail: { userId, previous: previous?.userId ?? null } });
    })();
    return this.head(departmentId) as DepartmentHead;
  }

  removeHead(departmentId: string, actor: string): void {
    this.department(departmentId);
    const previous = this.head(departmentId);
    if (!previous) throw new DomainError(404, 'not_found', `${departmentId} has no head`);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM department_heads WHERE department_id = ?').run(departmentId);
      this.audit.append({ actor, action: 'department.head_removed', subject: `organisation:${departmentId}`, detail: { userId: previous.userId } });
    })();
  }

  /** The department this person heads, or null. */
  headedBy(userId: string): string | null {
    const r = this.db.prepare('SELECT department_id FROM department_heads WHERE user_id = ?').get(userId) as { department_id: string } | undefined;
    return r?.department_id ?? null;
  }

  // Allowances ------------------------------------------------------------------
  private view(r: AllowanceRow, now: Date): DepartmentAllowance {
    const head = this.head(r.department_id);
    const inForce = !r.revoked_at && (!r.expires_at || new Date(r.expires_at) > now) && head?.userId === r.granted_by;
    return {
      id: r.id, departmentId: r.department_id, granteeId: r.grantee_id, grantedBy: r.granted_by, grantedAt: r.granted_at,
      expiresAt: r.expires_at, note: r.note, revokedAt: r.revoked_at, revokedBy: r.revoked_by, inForce,
    };
  }

  allowance(id: string): DepartmentAllowance | null {
    const r = this.db.prepare('SELECT * FROM department_allowances WHERE id = ?').get(id) as AllowanceRow | undefined;
    return r ? this.view(r, this.now()) : null;
  }

  /** The prosecutors of a department (id and name). */
  prosecutorsOf(departmentId: string): Array<{ id: string; displayName: string }> {
    return this.db
      .prepare("SELECT u.id, u.display_name AS displayName FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'prosecutor' WHERE u.organisation_id = ? AND u.disabled = 0 ORDER BY u.display_name")
      .all(departmentId) as Array<{ id: string; displayName: string }>;
  }

  /** Every department with its head and its prosecutors (for the administrator). */
  departments(): Array<{ id: string; name: string; nameEn: string; parentId: string | null; head: { userId: string; displayName: string } | null; prosecutors: Array<{ id: string; displayName: string }> }> {
    return this.accounts
      .organisations()
      .filter((o) => o.kind === 'department')
      .map((o) => {
        const head = this.head(o.id);
        return {
          id: o.id, name: o.name, nameEn: o.nameEn, parentId: o.parentId,
          head: head ? { userId: head.userId, displayName: this.accounts.user(head.userId)?.displayName ?? head.userId } : null,
          prosecutors: this.prosecutorsOf(o.id),
        };
      });
  }

  /**
   * The head's department's allowances and the prosecutors they may allow (for
   * its head), or the person's own allowances (for anyone else).
   */
  listFor(p: Person): { departmentId: string | null; head: boolean; members: Array<{ id: string; displayName: string }>; allowances: Array<DepartmentAllowance & { granteeName: string }> } {
    const now = this.now();
    const headed = this.headedBy(p.userId);
    const rows = headed
      ? (this.db.prepare('SELECT * FROM department_allowances WHERE department_id = ? ORDER BY granted_at').all(headed) as AllowanceRow[])
      : (this.db.prepare('SELECT * FROM department_allowances WHERE grantee_id = ? ORDER BY granted_at').all(p.userId) as AllowanceRow[]);
    return {
      departmentId: headed ?? p.organisationId,
      head: headed !== null,
      members: headed ? this.prosecutorsOf(headed).filter((m) => m.id !== p.userId) : [],
      allowances: rows.map((r) => ({ ...this.view(r, now), granteeName: this.accounts.user(r.grantee_id)?.displayName ?? r.grantee_id })),
    };
  }

  /** The head allows a prosecutor of the department to join its other prosecutors' bookings. */
  grant(p: Person, input: { granteeId: string; expiresAt?: string | null; note?: string | null }): DepartmentAllowance {
    const departmentId = this.headedBy(p.userId);
    if (!departmentId || p.organisationId !== departmentId || !p.roles.includes('prosecutor')) {
      this.audit.append({ actor: `user:${p.username}`, action: 'department.allowance_refused', subject: `user:${input.granteeId}`, detail: { why: 'not the head of a department' } });
      throw new DomainError(403, 'forbidden', 'only the head of a department may allow this');
    }
    if (input.granteeId === p.userId) this.refuse(p, `user:${input.granteeId}`, new DomainError(400, 'bad_request', 'the head needs no allowance of their own'));
    try {
      this.prosecutorOf(input.granteeId, departmentId, 'the person allowed');
    } catch (err) {
      // Granting to another department's prosecutor (or to no prosecutor) is refused, and audited as such.
      if (err instanceof DomainError) this.refuse(p, `user:${input.granteeId}`, err);
      throw err;
    }
    const now = this.now();
    // Stored in one form (UTC, toISOString), so the join rules' comparison with now in SQL is a comparison of instants:
    // "…+14:00" compared as text with "…Z" held an expired allowance in force for up to 14 more hours.
    const expires = input.expiresAt ? new Date(input.expiresAt) : null;
    if (expires && Number.isNaN(expires.getTime())) throw new DomainError(400, 'bad_request', 'expiresAt is not a date-time');
    if (expires && !(expires > now)) throw new DomainError(400, 'bad_request', 'expiresAt must be in the future');
    const expiresAt = expires ? expires.toISOString() : null;
    const id = randomUUID();
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO department_allowances (id, department_id, grantee_id, granted_by, granted_at, expires_at, note) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, departmentId, input.granteeId, p.userId, now.toISOString(), expiresAt, input.note ?? null);
      this.audit.append({ actor: `user:${p.username}`, action: 'department.allowance_granted', subject: `allowance:${id}`, detail: { departmentId, granteeId: input.granteeId, expiresAt } });
    })();
    return this.allowance(id) as DepartmentAllowance;
  }

  /** Revoked by the department's head or an administrator. */
  revoke(p: Person, id: string): DepartmentAllowance {
    const a = this.allowance(id);
    if (!a) throw new DomainError(404, 'not_found', `no allowance ${id}`);
    const isHead = this.head(a.departmentId)?.userId === p.userId;
    if (!isHead && !p.roles.includes('administrator')) this.refuse(p, `allowance:${id}`, new DomainError(403, 'forbidden', 'only the head of the department or an administrator may revoke this'));
    if (a.revokedAt) return a;
    this.db.transaction(() => {
      this.db.prepare('UPDATE department_allowances SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(this.now().toISOString(), p.userId, id);
      this.audit.append({ actor: `user:${p.username}`, action: 'department.allowance_revoked', subject: `allowance:${id}`, detail: { departmentId: a.departmentId, granteeId: a.granteeId } });
    })();
    return this.allowance(id) as DepartmentAllowance;
  }

  /** A refused grant or revocation: audited (like every refusal), then thrown. */
  private refuse(p: Person, subject: string, err: DomainError): never {
    this.audit.append({ actor: `user:${p.username}`, action: 'department.allowance_refused', subject, detail: { why: err.message } });
    throw err;
  }

  // What the join rules ask -------------------------------------------------------
  /** The allowance in force for this person in their own department now, or null. */
  private inForce(person: Person, now: Date): { allowanceId: string; departmentId: string } | null {
    const departmentId = person.organisationId;
    const head = this.head(departmentId);
    if (!head || head.userId === person.userId) return null;
    const headUser = this.accounts.user(head.userId);
    // A head who left the department, lost the role or was disabled allows nothing.
    if (!headUser || headUser.disabled || headUser.organisationId !== departmentId || !headUser.roles.includes('prosecutor')) return null;
    const r = this.db
      .prepare(
        `SELECT id FROM department_allowances WHERE department_id = ? AND grantee_id = ? AND granted_by = ? AND revoked_at IS NULL
         AND (expires_at IS NULL OR expires_at > ?) ORDER BY granted_at LIMIT 1`
      )
      .get(departmentId, person.userId, head.userId, now.toISOString()) as { id: string } | undefined;
    return r ? { allowanceId: r.id, departmentId } : null;
  }

  allowanceFor(person: Person, prosecutorId: string, now: Date): { allowanceId: string; departmentId: string } | null {
    if (prosecutorId === person.userId) return null;
    const colleague = this.accounts.user(prosecutorId);
    if (!colleague || colleague.organisationId !== person.organisationId || !colleague.roles.includes('prosecutor')) return null;
    return this.inForce(person, now);
  }

  colleaguesOf(person: Person, now: Date): string[] {
    if (!this.inForce(person, now)) return [];
    return (
      this.db
        .prepare("SELECT u.id FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'prosecutor' WHERE u.organisation_id = ? AND u.id <> ?")
        .all(person.organisationId, person.userId) as Array<{ id: string }>
    ).map((r) => r.id);
  }
}
