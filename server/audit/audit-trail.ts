// The keyed, hash-chained audit trail. Every module appends here inside the
// same transaction as its own change, so a change and its audit entry land
// together; when the entry cannot be written the change fails with it.
//
// Tamper evidence (see audit-chain.ts): each entry carries an HMAC under the
// audit key from secrets.json over its fields and the previous MAC; the head is
// signed (Ed25519) and exported to audit-heads.jsonl and the log at intervals,
// so a truncated tail is caught against the last export. Verification runs
// incrementally from the last verified checkpoint (itself MAC-tagged), in
// chunks that yield to the event loop.
import { randomBytes, generateKeyPairSync, createPublicKey } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import {
  CHAIN_FORMAT,
  ChainVerifier,
  GENESIS,
  checkpointTag,
  entryMac,
  headSignatureValid,
  keyId,
  signHead,
  type AuditKeys,
  type EntryRow,
  type SignedHead,
  type VerifyResult,
} from './audit-chain.js';
import { createHash } from 'node:crypto';

export type { VerifyResult } from './audit-chain.js';

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

/** The trail cannot take entries (written under another key, or the write failed): the action is refused. */
export class AuditUnavailableError extends Error {
  readonly code = 'audit_unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'AuditUnavailableError';
  }
}

export interface AuditTrailOptions {
  /** The chain's keys (from secrets.json). Without them the trail uses a key of its own, good only for a throw-away database. */
  keys?: AuditKeys;
  /** Where signed heads are exported (one JSON line each); none: not exported. */
  headFile?: string;
  log?: Logger;
}

function ephemeralKeys(): AuditKeys {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { macKey: randomBytes(32), signingKey: privateKey, publicKey: createPublicKey(privateKey) };
}

export class AuditTrail {
  private readonly last;
  private readonly insert;
  private readonly keys: AuditKeys;
  private readonly keyName: string;
  private unavailable: string | null = null;
  private lastExportedSeq = -1;
  private running: Promise<VerifyResult> | null = null;
  private exportTimer: NodeJS.Timeout | null = null;

  constructor(private readonly db: Db, private readonly options: AuditTrailOptions = {}) {
    this.keys = options.keys ?? ephemeralKeys();
    this.keyName = keyId(this.keys.macKey);
    this.last = db.prepare('SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1');
    this.insert = db.prepare('INSERT INTO audit_entries (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.adopt();
  }

  private meta(key: string): string | null {
    return (this.db.prepare('SELECT value FROM audit_meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null;
  }

  /**
   * Binds the trail to our key on first use. A trail from before keyed MACs
   * (plain SHA-256 chain) is re-sealed under the key once, noting whether its
   * old chain was intact. A trail sealed under another key takes no entries.
   */
  private adopt(): void {
    const format = this.meta('format');
    const sealedBy = this.meta('key_id');
    if (format === CHAIN_FORMAT) {
      if (sealedBy !== this.keyName) {
        this.unavailable = `the audit trail is sealed under another key (${sealedBy}); this process has key ${this.keyName}`;
        this.options.log?.error(this.unavailable);
      }
      return;
    }
    this.db.transaction(() => {
      this.db.exec('DROP TRIGGER IF EXISTS audit_entries_no_update; DROP TRIGGER IF EXISTS audit_entries_no_delete;');
      const rows = this.db.prepare('SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_entries ORDER BY seq').all() as EntryRow[];
      let legacyPrev = GENESIS;
      let legacyBrokenAt: number | null = null;
      let prev = GENESIS;
      const update = this.db.prepare('UPDATE audit_entries SET seq = ?, prev_hash = ?, hash = ? WHERE seq = ?');
      // Renumber densely first (the old table could have gaps), then re-seal.
      rows.forEach((r, i) => {
        const legacy = createHash('sha256').update([legacyPrev, r.at, r.actor, r.action, r.subject, r.detail].join('\u001f')).digest('hex');
        if (legacyBrokenAt === null && (r.prev_hash !== legacyPrev || legacy !== r.hash)) legacyBrokenAt = r.seq;
        legacyPrev = r.hash;
        const seq = i + 1;
        const mac = entryMac(this.keys.macKey, prev, { ...r, seq });
        update.run(seq, prev, mac, r.seq);
        prev = mac;
      });
      this.db.prepare('INSERT OR REPLACE INTO audit_meta (key, value) VALUES (?, ?)').run('format', CHAIN_FORMAT);
      this.db.prepare('INSERT OR REPLACE INTO audit_meta (key, value) VALUES (?, ?)').run('key_id', this.keyName);
      // Append-only from here on (a writer of the file can drop these; the MACs still tell).
      this.db.exec(`CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
        CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;`);
      if (rows.length) this.append({ actor: 'system', action: 'audit.sealed', subject: 'audit', detail: { entries: rows.length, legacyChainBrokenAt: legacyBrokenAt } });
    })();
  }

  /** Appends one entry; call inside the caller's transaction. Throws AuditUnavailableError when it cannot. */
  append(input: AuditInput, at: Date = new Date()): void {
    if (this.unavailable) throw new AuditUnavailableError(this.unavailable);
    try {
      const last = this.last.get() as { seq: number; hash: string } | undefined;
      const seq = (last?.seq ?? 0) + 1;
      const prev = last?.hash ?? GENESIS;
      const fields = { seq, at: at.toISOString(), actor: input.actor, action: input.action, subject: input.subject, detail: JSON.stringify(input.detail ?? {}) };
      this.insert.run(seq, fields.at, fields.actor, fields.action, fields.subject, fields.detail, prev, entryMac(this.keys.macKey, prev, fields));
    } catch (err) {
      throw new AuditUnavailableError(`the audit entry ${input.action} cannot be written: ${(err as Error).message}`);
    }
  }

  /** Appends in a transaction of its own (for actions that have no other write). */
  record(input: AuditInput): void {
    this.db.transaction(() => this.append(input))();
  }

  // -------------------------------------------------------------------------
  // Signed heads

  head(): SignedHead {
    const last = this.last.get() as { seq: number; hash: string } | undefined;
    return signHead(this.keys, { seq: last?.seq ?? 0, mac: last?.hash ?? GENESIS, at: new Date().toISOString(), keyId: this.keyName });
  }

  /** Exports the signed head (file and log) if the trail grew since the last export. */
  exportHead(force = false): SignedHead | null {
    const head = this.head();
    if (!force && head.seq === this.lastExportedSeq) return null;
    if (this.options.headFile) {
      appendFileSync(this.options.headFile, `${JSON.stringify(head)}\n`, { mode: 0o600 });
      const fd = openSync(this.options.headFile, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    this.options.log?.info({ auditHead: head }, 'audit head');
    this.lastExportedSeq = head.seq;
    return head;
  }

  /** Exports the head every `intervalMs` (and stops with `stopExport`). */
  startExport(intervalMs: number): void {
    this.stopExport();
    this.exportTimer = setInterval(() => {
      try {
        this.exportHead();
      } catch (err) {
        this.options.log?.error({ err }, 'cannot export the audit head');
      }
    }, intervalMs);
    this.exportTimer.unref();
  }

  stopExport(): void {
    if (this.exportTimer) clearInterval(this.exportTimer);
    this.exportTimer = null;
  }

  /** The furthest head exported under our signing key (lines with a bad signature are ignored and counted). */
  lastExportedHead(): { head: SignedHead | null; badLines: number } {
    const file = this.options.headFile;
    if (!file || !existsSync(file)) return { head: null, badLines: 0 };
    let best: SignedHead | null = null;
    let badLines = 0;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const h = JSON.parse(line) as SignedHead;
        if (typeof h.seq !== 'number' || typeof h.mac !== 'string' || typeof h.signature !== 'string' || !headSignatureValid(this.keys.publicKey, h)) {
          badLines++;
          continue;
        }
        if (!best || h.seq > best.seq) best = h;
      } catch {
        badLines++;
      }
    }
    return { head: best, badLines };
  }

  // -------------------------------------------------------------------------
  // Verification

  /** The last checkpoint whose tag is ours and whose entry is still as it was. */
  private checkpoint(): { seq: number; mac: string } | null {
    const rows = this.db.prepare('SELECT seq, mac, tag FROM audit_checkpoints ORDER BY seq DESC LIMIT 20').all() as Array<{ seq: number; mac: string; tag: string }>;
    for (const c of rows) {
      if (c.tag !== checkpointTag(this.keys.macKey, c.seq, c.mac)) continue;
      const entry = this.db.prepare('SELECT hash FROM audit_entries WHERE seq = ?').get(c.seq) as { hash: string } | undefined;
      if (entry?.hash === c.mac) return { seq: c.seq, mac: c.mac };
    }
    return null;
  }

  private saveCheckpoint(result: VerifyResult): void {
    if (!result.intact || result.lastSeq === 0 || result.checked === 0) return;
    this.db
      .prepare('INSERT OR REPLACE INTO audit_checkpoints (seq, mac, verified_at, tag) VALUES (?, ?, ?, ?)')
      .run(result.lastSeq, result.lastMac, new Date().toISOString(), checkpointTag(this.keys.macKey, result.lastSeq, result.lastMac));
  }

  private startOf(full: boolean): { from: { seq: number; mac: string } | null; head: SignedHead | null; headProblem: string | null } {
    const { head, badLines } = this.lastExportedHead();
    const from = full ? null : this.checkpoint();
    let headProblem: string | null = badLines ? `${badLines} exported head line(s) carry no valid signature` : null;
    if (head && head.keyId !== this.keyName) headProblem = `the exported head was signed for key ${head.keyId}`;
    return { from, head, headProblem };
  }

  /** An exported head at or before the starting checkpoint: its entry must still carry its MAC. */
  private headBehind(start: { from: { seq: number; mac: string } | null; head: SignedHead | null }): VerifyResult | null {
    const { from, head } = start;
    if (!head || !from || head.seq > from.seq) return null;
    const entry = this.db.prepare('SELECT hash FROM audit_entries WHERE seq = ?').get(head.seq) as { hash: string } | undefined;
    if (entry?.hash === head.mac) return null;
    return {
      intact: false, brokenAt: head.seq, checked: 0, from: from.seq, lastSeq: from.seq, lastMac: from.mac, head: { seq: head.seq, at: head.at },
      problem: { kind: entry ? 'entry' : 'truncated', seq: head.seq, why: `entry ${head.seq} is not the one the head exported at ${head.at} names` },
    };
  }

  private withHeadProblem(result: VerifyResult, headProblem: string | null): VerifyResult & { warning?: string } {
    return headProblem ? { ...result, warning: headProblem } : result;
  }

  /**
   * Verifies from the last verified checkpoint (or from the beginning with
   * `full`), against the last exported head; records a new checkpoint when
   * intact. Synchronous: for the CLI and tests. The server uses verifyAsync.
   */
  verifyNow(full = false): VerifyResult & { warning?: string } {
    const start = this.startOf(full);
    const behind = this.headBehind(start);
    if (behind) return this.withHeadProblem(behind, start.headProblem);
    const v = new ChainVerifier(this.keys.macKey, start);
    v.feed(this.db.prepare('SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_entries WHERE seq > ? ORDER BY seq').iterate(start.from?.seq ?? 0) as Iterable<EntryRow>);
    const result = v.finish();
    this.saveCheckpoint(result);
    return this.withHeadProblem(result, start.headProblem);
  }

  /**
   * The same check in chunks of `chunk` entries, yielding to the event loop
   * between them, so live sessions keep their pings. One run at a time: a
   * second caller shares the running one.
   */
  verifyAsync(options: { full?: boolean; chunk?: number } = {}): Promise<VerifyResult & { warning?: string }> {
    if (this.running) return this.running;
    const run = async (): Promise<VerifyResult & { warning?: string }> => {
      const start = this.startOf(options.full ?? false);
      const behind = this.headBehind(start);
      if (behind) return this.withHeadProblem(behind, start.headProblem);
      const v = new ChainVerifier(this.keys.macKey, start);
      const page = this.db.prepare('SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_entries WHERE seq >= ? ORDER BY seq LIMIT ?');
      const chunk = options.chunk ?? 5000;
      for (;;) {
        const rows = page.all(v.nextSeq, chunk) as EntryRow[];
        if (!rows.length || !v.feed(rows)) break;
        if (rows.length < chunk) break;
        await new Promise((r) => setImmediate(r));
      }
      const result = v.finish();
      this.saveCheckpoint(result);
      return this.withHeadProblem(result, start.headProblem);
    };
    this.running = run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Back-compatible check: the first broken sequence number, or null when intact (full run). */
  verify(): number | null {
    return this.verifyNow(true).brokenAt;
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
