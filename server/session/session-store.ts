// Persistence of sessions and parties, each change with its audit entry in the
// same transaction.
import type { Db } from '../db/database.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import type { PartyRole } from '../signalling/protocol.js';
import type { PartyLeaveReason, SessionCloseReason } from './close-reason.js';

export class SessionStore {
  constructor(private readonly db: Db, private readonly audit: AuditTrail) {}

  /** Sessions left open by a previous process cannot be live any more. */
  closeStale(): number {
    return this.db.transaction(() => {
      const now = new Date().toISOString();
      const stale = this.db.prepare("SELECT id FROM sessions WHERE status = 'open'").all() as Array<{ id: string }>;
      for (const s of stale) {
        this.db.prepare("UPDATE sessions SET status = 'closed', closed_at = ?, close_reason = 'server_restarted' WHERE id = ?").run(now, s.id);
        this.db.prepare("UPDATE parties SET left_at = ?, leave_reason = 'server restarted' WHERE session_id = ? AND left_at IS NULL").run(now, s.id);
        this.audit.append({ actor: 'system', action: 'session.closed', subject: `session:${s.id}`, detail: { reason: 'server_restarted' } });
      }
      return stale.length;
    })();
  }

  /**
   * Records an opened session. `within` runs first in the same transaction (the schedule's
   * compare-and-set of its booking's live status): if it throws, nothing is recorded.
   */
  opened(sessionId: string, roomId: string, bookingId: string | null, actor: string, within?: () => void): void {
    this.db.transaction(() => {
      within?.();
      this.db
        .prepare("INSERT INTO sessions (id, room_id, booking_id, status, opened_at) VALUES (?, ?, ?, 'open', ?)")
        .run(sessionId, roomId, bookingId, new Date().toISOString());
      this.audit.append({ actor, action: 'session.opened', subject: `session:${sessionId}`, detail: { roomId, bookingId } });
    }).immediate();
  }

  /** Records a session's close (once: a record already closed, e.g. with its booking's step, stays as it is). */
  closed(sessionId: string, reason: SessionCloseReason, actor: string): void {
    this.db.transaction(() => {
      const now = new Date().toISOString();
      const res = this.db.prepare("UPDATE sessions SET status = 'closed', closed_at = ?, close_reason = ? WHERE id = ? AND status = 'open'").run(now, reason, sessionId);
      if (res.changes) this.audit.append({ actor, action: 'session.closed', subject: `session:${sessionId}`, detail: { reason } });
    })();
  }

  /**
   * Closes the open session records of a booking (in the caller's transaction, with the booking's
   * status step); returns their ids. The live sessions are closed after the commit.
   */
  closeOfBooking(bookingId: string, reason: SessionCloseReason, actor: string): string[] {
    return this.db.transaction(() => {
      const open = this.db.prepare("SELECT id FROM sessions WHERE booking_id = ? AND status = 'open'").all(bookingId) as Array<{ id: string }>;
      for (const s of open) this.closed(s.id, reason, actor);
      return open.map((s) => s.id);
    })();
  }

  /** The open session records of a room (any process), with their bookings. */
  openInRoom(roomId: string): Array<{ id: string; bookingId: string | null }> {
    return (this.db.prepare("SELECT id, booking_id FROM sessions WHERE room_id = ? AND status = 'open'").all(roomId) as Array<{ id: string; booking_id: string | null }>).map((r) => ({
      id: r.id,
      bookingId: r.booking_id,
    }));
  }

  isOpen(sessionId: string): boolean {
    return (this.db.prepare('SELECT status FROM sessions WHERE id = ?').get(sessionId) as { status: string } | undefined)?.status === 'open';
  }

  partyJoined(sessionId: string, partyId: string, role: PartyRole, displayName: string, remoteAddress: string | null): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO parties (id, session_id, role, display_name, remote_address, joined_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(partyId, sessionId, role, displayName, remoteAddress, new Date().toISOString());
      this.audit.append({ actor: `party:${partyId}`, action: 'party.joined', subject: `session:${sessionId}`, detail: { role, displayName, remoteAddress } });
    })();
  }

  partyLeft(sessionId: string, partyId: string, reason: PartyLeaveReason): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE parties SET left_at = ?, leave_reason = ? WHERE id = ? AND left_at IS NULL').run(new Date().toISOString(), reason, partyId);
      this.audit.append({ actor: `party:${partyId}`, action: 'party.left', subject: `session:${sessionId}`, detail: { reason } });
    })();
  }

  agentHealth(roomId: string, report: unknown): void {
    this.db
      .prepare('INSERT INTO agent_health (room_id, reported_at, report) VALUES (?, ?, ?) ON CONFLICT(room_id) DO UPDATE SET reported_at = excluded.reported_at, report = excluded.report')
      .run(roomId, new Date().toISOString(), JSON.stringify(report));
  }

  lastHealth(roomId: string): { reportedAt: string; report: unknown } | null {
    const row = this.db.prepare('SELECT reported_at, report FROM agent_health WHERE room_id = ?').get(roomId) as { reported_at: string; report: string } | undefined;
    return row ? { reportedAt: row.reported_at, report: JSON.parse(row.report) as unknown } : null;
  }
}
