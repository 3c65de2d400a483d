// The audit chain's arithmetic, shared by the trail (main thread), the verify
// worker and the CLI: each entry's MAC is HMAC-SHA256 under the audit key (kept
// in secrets.json, never in the database) over its sequence number, its fields
// and the previous entry's MAC. Whoever can write the SQLite file but lacks the
// key cannot edit, delete, reorder or re-chain entries without breaking a MAC.
// The chain head (last seq and MAC) is signed with the audit signing key
// (Ed25519) and exported, so a truncated tail shows against the last export.
import { createHash, createHmac, createPrivateKey, createPublicKey, sign, verify as verifySignature, type KeyObject } from 'node:crypto';

export const GENESIS = '0'.repeat(64);
export const CHAIN_FORMAT = 'hmac-sha256-v1';

export interface AuditKeys {
  /** HMAC key of the chain. */
  macKey: Buffer;
  /** Ed25519 private key that signs exported heads. */
  signingKey: KeyObject;
  publicKey: KeyObject;
}

export function auditKeys(macKeyBase64url: string, signingKeyPem: string): AuditKeys {
  const macKey = Buffer.from(macKeyBase64url, 'base64url');
  if (macKey.length < 32) throw new Error('audit key too short');
  const signingKey = createPrivateKey(signingKeyPem);
  return { macKey, signingKey, publicKey: createPublicKey(signingKey) };
}

/** A short public name of the key, kept in the database to notice a trail written under another key. */
export function keyId(macKey: Buffer): string {
  return createHash('sha256').update(createHmac('sha256', macKey).update('audit key id').digest()).digest('hex').slice(0, 16);
}

export interface EntryFields {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: string;
}

export function entryMac(macKey: Buffer, prevMac: string, e: EntryFields): string {
  // JSON of an array: no separator inside a field can shift one field into the next.
  return createHmac('sha256', macKey).update(JSON.stringify([CHAIN_FORMAT, e.seq, e.at, e.actor, e.action, e.subject, e.detail, prevMac])).digest('hex');
}

export interface Head {
  seq: number;
  mac: string;
  at: string;
  keyId: string;
}

export interface SignedHead extends Head {
  signature: string;
}

function headBytes(h: Head): Buffer {
  return Buffer.from(JSON.stringify(['audit head', h.seq, h.mac, h.at, h.keyId]));
}

export function signHead(keys: AuditKeys, head: Head): SignedHead {
  return { ...head, signature: sign(null, headBytes(head), keys.signingKey).toString('base64') };
}

export function headSignatureValid(publicKey: KeyObject, h: SignedHead): boolean {
  try {
    return verifySignature(null, headBytes(h), publicKey, Buffer.from(h.signature, 'base64'));
  } catch {
    return false;
  }
}

export function checkpointTag(macKey: Buffer, seq: number, mac: string): string {
  return createHmac('sha256', macKey).update(JSON.stringify(['audit checkpoint', seq, mac])).digest('hex');
}

export interface EntryRow extends EntryFields {
  prev_hash: string;
  hash: string;
}

export type VerifyProblem =
  | { kind: 'entry'; seq: number; why: string }
  | { kind: 'truncated'; seq: number; why: string };

export interface VerifyResult {
  intact: boolean;
  /** The first entry that is not as written (or the first missing one), null when intact. */
  brokenAt: number | null;
  problem: VerifyProblem | null;
  /** Entries checked in this run, and where the run started (0: from the beginning). */
  checked: number;
  from: number;
  lastSeq: number;
  lastMac: string;
  /** The exported head the trail was held against, if any. */
  head: { seq: number; at: string } | null;
}

export interface VerifyStart {
  /** Start after this verified point (seq, mac); null: from the beginning. */
  from: { seq: number; mac: string } | null;
  /** The last exported signed head; the trail must reach it with the same MAC. */
  head: SignedHead | null;
}

/**
 * Checks entries fed in seq order from a starting point: every MAC and every
 * link. An edited entry fails its MAC, a deleted one leaves a gap in seq,
 * reordered or re-chained ones fail their MACs or links; an exported head the
 * trail no longer reaches is a truncation. Fed in chunks, so a caller can yield
 * between them and never block the event loop for long.
 */
export class ChainVerifier {
  private prev: string;
  private expectSeq: number;
  private headSeen = false;
  checked = 0;
  problem: VerifyProblem | null = null;

  constructor(private readonly macKey: Buffer, private readonly start: VerifyStart) {
    this.prev = start.from?.mac ?? GENESIS;
    this.expectSeq = (start.from?.seq ?? 0) + 1;
  }

  get nextSeq(): number {
    return this.expectSeq;
  }

  /** Returns false once a problem is found. */
  feed(rows: Iterable<EntryRow>): boolean {
    if (this.problem) return false;
    const head = this.start.head;
    for (const r of rows) {
      const seq = this.expectSeq;
      if (r.seq !== seq) return this.fail({ kind: 'entry', seq, why: `entry ${seq} is missing (the next one is ${r.seq})` });
      if (r.prev_hash !== this.prev) return this.fail({ kind: 'entry', seq, why: `entry ${seq} does not link to entry ${seq - 1}` });
      if (entryMac(this.macKey, this.prev, r) !== r.hash) {
        return this.fail({ kind: 'entry', seq, why: `entry ${seq} (${r.action} by ${r.actor} at ${r.at}) is not what was written: its MAC does not match` });
      }
      if (head && seq === head.seq) {
        this.headSeen = true;
        if (r.hash !== head.mac) return this.fail({ kind: 'entry', seq, why: `entry ${seq} differs from the head exported at ${head.at}` });
      }
      this.prev = r.hash;
      this.expectSeq++;
      this.checked++;
    }
    return true;
  }

  private fail(problem: VerifyProblem): false {
    this.problem = problem;
    return false;
  }

  finish(): VerifyResult {
    const head = this.start.head;
    const from = this.start.from?.seq ?? 0;
    const lastSeq = this.expectSeq - 1;
    if (!this.problem && head && !this.headSeen && head.seq > from && lastSeq < head.seq) {
      this.problem = {
        kind: 'truncated',
        seq: lastSeq + 1,
        why: `the trail ends at entry ${lastSeq} but the head exported at ${head.at} reached entry ${head.seq}: entries ${lastSeq + 1} to ${head.seq} were removed`,
      };
    }
    return {
      intact: this.problem === null,
      brokenAt: this.problem?.seq ?? null,
      problem: this.problem,
      checked: this.checked,
      from,
      lastSeq,
      lastMac: this.prev,
      head: head ? { seq: head.seq, at: head.at } : null,
    };
  }
}
