// The hash-chained audit trail. Every module appends here inside the same
// transaction as its own change, so a change and its audit entry land together.
import { createHash } from 'node:crypto';
import type { Db } from '../db/database.js';

export interface AuditInput {
  actor: string;
  action: string;
  subject: string;
  detail?: Record<string, unknown>;
}

export interface AuditEntry extends Required<AuditInput> {
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

function entryHash(prevHash: string, at: string, e: { actor: string; action: string; subject: string }, detail: string): string {
  return createHash('sha256').update([prevHash, at, e.actor, e.action, e.subject, detail].join('\u001f')).digest('hex');
}

export class AuditTrail {
  private readonly last;
  private readonly insert;

  constructor(private readonly db: Db) {
    this.last = db.prepare('SELECT hash FROM audit_entries ORDER BY seq DESC LIMIT 1');
    this.insert = db.prepare(
      'INSERT INTO audit_entries (at, actor, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)'
    );
  }

  /** Appends one entry; call inside the caller's transaction. */
  append(input: AuditInput, at: Date = new Date()): void {
    const prev = (this.last.get() as { hash: string } | undefined)?.hash ?? GENESIS;
    const iso = at.toISOString();
    const detail = JSON.stringify(input.detail ?? {});
    this.insert.run(iso, input.actor, input.action, input.subject, detail, prev, entryHash(prev, iso, input, detail));
  }

  /** Re-computes the chain; returns the first broken sequence number, or null when intact. */
  verify(): number | null {
    let prev = GENESIS;
    const rows = this.db.prepare('SELECT * FROM audit_entries ORDER BY seq').iterate() as Iterable<{
      seq: number; at: string; actor: string; action: string; subject: string; detail: string; prev_hash: string; hash: string;
    }>;
    for (const r of rows) {
      if (r.prev_hash !== prev || entryHash(prev, r.at, r, r.detail) !== r.hash) return r.seq;
      prev = r.hash;
    }
    return null;
  }

  recent(limit = 100): AuditEntry[] {
    const rows = this.db.prepare('SELECT * FROM audit_entries ORDER BY seq DESC LIMIT ?').all(limit) as Array<{
      seq: number; at: string; actor: string; action: string; subject: string; detail: string; prev_hash: string; hash: string;
    }>;
    return rows.map((r) => ({
      seq: r.seq, at: r.at, actor: r.actor, action: r.action, subject: r.subject,
      detail: JSON.parse(r.detail) as Record<string, unknown>, prevHash: r.prev_hash, hash: r.hash,
    }));
  }
}
