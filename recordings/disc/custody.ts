// Custody of a booking's discs: every step (image built, burned, verified,
// sealed, handed over) is one custody event, appended with its audit entry in
// the same transaction as the step. Custody events are append-only: triggers
// refuse UPDATE and DELETE, each event is hash-chained to the one before, and
// each audit entry carries its event's hash; verify() finds an edited, deleted
// or inserted event even when someone with the database file dropped the
// triggers and re-chained the table.
import { createHash } from 'node:crypto';
import type { Db } from '../../server/db/database.js';
import type { AuditTrail } from '../../server/audit/audit-trail.js';

export const CUSTODY_KINDS = ['image_built', 'burned', 'verified', 'verify_failed', 'sealed', 'handed_over'] as const;
export type CustodyKind = (typeof CUSTODY_KINDS)[number];
export type DiscCopy = 'master' | 'working';

export const CUSTODY_KIND_ZH: Readonly<Record<CustodyKind, string>> = {
  image_built: '生成光盘镜像',
  burned: '刻录并回读校验',
  verified: '校验通过',
  verify_failed: '校验未通过',
  sealed: '封存',
  handed_over: '移交',
};

export interface CustodyInput {
  bookingId: string;
  kind: CustodyKind;
  discNo: number | null;
  copy: DiscCopy | null;
  imageSha256: string | null;
  /** Who did it ('staff:wang', 'cli:root'). */
  actor: string;
  /** For handed_over: to whom; for sealed: the seal's witness. */
  handedTo: string | null;
  detail: Record<string, unknown>;
}

export interface CustodyEvent extends CustodyInput {
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
}

export interface DiscImageRow {
  bookingId: string;
  discNo: number;
  discCount: number;
  medium: string;
  path: string;
  bytes: number;
  sha256: string;
  manifestSha256: string;
  builtAt: string;
}

const GENESIS = '0'.repeat(64);

interface EventRow {
  seq: number; booking_id: string; kind: CustodyKind; disc_no: number | null; copy: DiscCopy | null; image_sha256: string | null;
  actor: string; handed_to: string | null; at: string; detail: string; prev_hash: string; hash: string;
}

function eventHash(prev: string, r: Omit<EventRow, 'hash' | 'prev_hash'>): string {
  return createHash('sha256')
    .update([prev, r.seq, r.booking_id, r.kind, r.disc_no ?? '', r.copy ?? '', r.image_sha256 ?? '', r.actor, r.handed_to ?? '', r.at, r.detail].join('\u001f'))
    .digest('hex');
}

function eventOf(r: EventRow): CustodyEvent {
  return {
    seq: r.seq, bookingId: r.booking_id, kind: r.kind, discNo: r.disc_no, copy: r.copy, imageSha256: r.image_sha256, actor: r.actor,
    handedTo: r.handed_to, at: r.at, detail: JSON.parse(r.detail) as Record<string, unknown>, prevHash: r.prev_hash, hash: r.hash,
  };
}


export class CustodyStore {
  constructor(private readonly db: Db, private readonly audit: AuditTrail) {}

  /** Appends one event and its audit entry; joins the caller's transaction when there is one. */
  append(input: CustodyInput, at: Date = new Date()): CustodyEvent {
    return this.db.transaction(() => {
      const last = this.db.prepare('SELECT seq, hash FROM custody_events ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
      const prev = last?.hash ?? GENESIS;
      const seqRow = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'custody_events'").get() as { seq: number } | undefined;
      const seq = Math.max(seqRow?.seq ?? 0, last?.seq ?? 0) + 1;
      const row = {
        seq, booking_id: input.bookingId, kind: input.kind, disc_no: input.discNo, copy: input.copy, image_sha256: input.imageSha256,
        actor: input.actor, handed_to: input.handedTo, at: at.toISOString(), detail: JSON.stringify(input.detail),
      };
      const hash = eventHash(prev, row);
      this.db
        .prepare(
          `INSERT INTO custody_events (seq, booking_id, kind, disc_no, copy, image_sha256, actor, handed_to, at, detail, prev_hash, hash)
           VALUES (@seq, @booking_id, @kind, @disc_no, @copy, @image_sha256, @actor, @handed_to, @at, @detail, @prev_hash, @hash)`
        )
        .run({ ...row, prev_hash: prev, hash });
      this.audit.append(
        {
          actor: input.actor, action: `custody.${input.kind}`, subject: `booking:${input.bookingId}`,
          detail: { custodySeq: seq, custodyHash: hash, discNo: input.discNo, copy: input.copy, imageSha256: input.imageSha256, handedTo: input.handedTo },
        },
        at
      );
      return eventOf({ ...row, prev_hash: prev, hash });
    })();
  }

  /** The images of a build replace the booking's earlier ones, with an image_built event per disc, in one transaction. */
  imagesBuilt(bookingId: string, images: Omit<DiscImageRow, 'bookingId' | 'builtAt'>[], actor: string, detail: Record<string, unknown>): CustodyEvent[] {
    return this.db.transaction(() => {
      const now = new Date();
      this.db.prepare('DELETE FROM disc_images WHERE booking_id = ?').run(bookingId);
      const ins = this.db.prepare(
        'INSERT INTO disc_images (booking_id, disc_no, disc_count, medium, path, bytes, sha256, manifest_sha256, built_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'
      );
      return images.map((d) => {
        ins.run(bookingId, d.discNo, d.discCount, d.medium, d.path, d.bytes, d.sha256, d.manifestSha256, now.toISOString());
        return this.append(
          { bookingId, kind: 'image_built', discNo: d.discNo, copy: null, imageSha256: d.sha256, actor, handedTo: null, detail: { ...detail, discCount: d.discCount, medium: d.medium, bytes: d.bytes, manifestSha256: d.manifestSha256 } },
          now
        );
      });
    })();
  }

  discImages(bookingId: string): DiscImageRow[] {
    const rows = this.db.prepare('SELECT * FROM disc_images WHERE booking_id = ? ORDER BY disc_no').all(bookingId) as Array<{
      booking_id: string; disc_no: number; disc_count: number; medium: string; path: string; bytes: number; sha256: string; manifest_sha256: string; built_at: string;
    }>;
    return rows.map((r) => ({
      bookingId: r.booking_id, discNo: r.disc_no, discCount: r.disc_count, medium: r.medium, path: r.path, bytes: r.bytes, sha256: r.sha256,
      manifestSha256: r.manifest_sha256, builtAt: r.built_at,
    }));
  }

  events(bookingId: string): CustodyEvent[] {
    return (this.db.prepare('SELECT * FROM custody_events WHERE booking_id = ? ORDER BY seq').all(bookingId) as EventRow[]).map(eventOf);
  }

  /**
   * Checks the custody log: every event's hash and link to the one before, and
   * a one-to-one match with the custody entries of the audit trail (whose own
   * chain is checked too). Returns one line per problem; empty when intact.
   */
  verify(): string[] {
    const problems: string[] = [];
    const brokenAudit = this.audit.verify();
    if (brokenAudit !== null) problems.push(`audit trail: entry ${brokenAudit} does not match its chain`);
    const rows = this.db.prepare('SELECT * FROM custody_events ORDER BY seq').all() as EventRow[];
    let prev = GENESIS;
    const bySeq = new Map<number, EventRow>();
    for (const r of rows) {
      bySeq.set(r.seq, r);
      if (r.prev_hash !== prev) problems.push(`custody event ${r.seq}: does not follow the event before it (an event was deleted or inserted)`);
      if (eventHash(r.prev_hash, r) !== r.hash) problems.push(`custody event ${r.seq}: its content does not match its hash (edited)`);
      prev = r.hash;
    }
    const audited = this.db.prepare("SELECT seq, action, detail FROM audit_entries WHERE action LIKE 'custody.%' ORDER BY seq").all() as Array<{ seq: number; action: string; detail: string }>;
    const seen = new Set<number>();
    for (const a of audited) {
      let d: { custodySeq?: unknown; custodyHash?: unknown };
      try {
        d = JSON.parse(a.detail) as typeof d;
      } catch {
        problems.push(`audit entry ${a.seq}: unreadable custody detail`);
        continue;
      }
      const seq = typeof d.custodySeq === 'number' ? d.custodySeq : -1;
      seen.add(seq);
      const r = bySeq.get(seq);
      if (!r) problems.push(`custody event ${seq}: recorded in the audit trail (entry ${a.seq}) but missing from the custody log (deleted)`);
      else if (r.hash !== d.custodyHash || `custody.${r.kind}` !== a.action) problems.push(`custody event ${seq}: differs from what the audit trail recorded (entry ${a.seq}) (edited)`);
    }
    for (const r of rows) if (!seen.has(r.seq)) problems.push(`custody event ${r.seq}: not in the audit trail (inserted afterwards)`);
    return problems;
  }
}
