// Guest links: how a defence lawyer without an account, or a suspect on bail,
// joins one booking's session. The booking's own prosecutor issues a link (shown
// once, with a short numeric code to be sent separately, e.g. by phone); the
// guest opens the link, types the code, and the link is bound to that device (a
// signed, httpOnly cookie) until it is revoked or its booking's window ends. A
// second device is refused while the link is bound; wrong codes lock it. The
// link's secret and code are kept only as hashes (the code as an HMAC under the
// secret, so the database file alone cannot be searched for it). Every issue,
// redeem, wrong code, lock, refusal and revocation is an audit entry written
// with its change; a step whose entry cannot be written does not happen.
import { createHash, createHmac, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import { AuditThrottle } from '../audit/audit-throttle.js';
import { TypedEmitter } from '../events.js';
import { DomainError } from '../errors.js';
import type { BookingRow } from '../schedule/schedule-store.js';
import { actorOf, type Principal } from './authorization.js';

export type GuestRole = 'defence_lawyer' | 'bail_suspect';
export const guestRoles: readonly GuestRole[] = ['defence_lawyer', 'bail_suspect'];

/** Wrong codes a link takes before it locks (staff or the prosecutor revoke it and issue a new one). */
export const MAX_WRONG_CODES = 5;
/** Digits of the short code. */
export const CODE_DIGITS = 6;

export interface GuestLinkRecord {
  id: string;
  bookingId: string;
  role: GuestRole;
  guestName: string;
  issuedBy: string;
  issuedAt: string;
  wrongCodes: number;
  lockedAt: string | null;
  redeemedAt: string | null;
  deviceBound: boolean;
  deviceAddress: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

interface Row {
  id: string;
  booking_id: string;
  role: GuestRole;
  guest_name: string;
  issued_by: string;
  issued_at: string;
  secret_hash: string;
  code_hash: string;
  wrong_codes: number;
  locked_at: string | null;
  redeemed_at: string | null;
  device_hash: string | null;
  device_address: string | null;
  device_agent: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
}

function recordOf(r: Row): GuestLinkRecord {
  return {
    id: r.id,
    bookingId: r.booking_id,
    role: r.role,
    guestName: r.guest_name,
    issuedBy: r.issued_by,
    issuedAt: r.issued_at,
    wrongCodes: r.wrong_codes,
    lockedAt: r.locked_at,
    redeemedAt: r.redeemed_at,
    deviceBound: r.device_hash !== null,
    deviceAddress: r.device_address,
    revokedAt: r.revoked_at,
    revokedBy: r.revoked_by,
  };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const codeMac = (secret: string, code: string) => createHmac('sha256', secret).update(`guest-code:${code}`).digest('hex');

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The state a page shows for a link (never its secret or code). */
export type GuestLinkState = 'issued' | 'bound' | 'locked' | 'revoked' | 'expired';

/** What a guest link lets its holder do, as the join rules need it. */
export interface GuestHolder {
  linkId: string;
  bookingId: string;
  role: GuestRole;
  guestName: string;
}

export type GuestLinkEvents = {
  /** The link was revoked: a live party of it goes at once. */
  revoked: [{ linkId: string; bookingId: string }];
};

export interface GuestLinkDeps {
  db: Db;
  audit: AuditTrail;
  /** A booking as stored. */
  booking(id: string): BookingRow | null;
  /** The booking's join window (JoinRules.window): links work inside it only. */
  window(row: BookingRow): { notBefore: Date; until: Date };
  /** Whether a booking's defence lawyer has an account (then they join by signing in, not by guest link). */
  lawyerHasAccount(lawyerId: string): boolean;
  /** The site's clock (epoch ms; tests set the site's hour). */
  nowMs(): number;
}

/** Bookings whose session may still be live. */
const OPEN = new Set<BookingRow['status']>(['scheduled', 'escorting', 'in_room', 'in_session']);

/** A link's secret (URL fragment) and its device cookie: base64url of 32 random bytes. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export class GuestLinks extends TypedEmitter<GuestLinkEvents> {
  private readonly refusals: AuditThrottle;

  constructor(private readonly deps: GuestLinkDeps) {
    super();
    // Unknown secrets are throttled per address (a loop cannot flood the trail); known links' refusals are bounded by the lock.
    this.refusals = new AuditThrottle(deps.audit, { burst: 10, windowMs: 60_000 });
  }

  private row(id: string): Row | null {
    return (this.deps.db.prepare('SELECT * FROM guest_links WHERE id = ?').get(id) as Row | undefined) ?? null;
  }

  private rowsOf(bookingId: string): Row[] {
    return this.deps.db.prepare('SELECT * FROM guest_links WHERE booking_id = ? ORDER BY issued_at, id').all(bookingId) as Row[];
  }

  private mustBooking(id: string): BookingRow {
    const row = this.deps.booking(id);
    if (!row) throw new DomainError(404, 'not_found', `no booking ${id}`);
    return row;
  }

  private now(): Date {
    return new Date(this.deps.nowMs());
  }

  /** The link's state now. */
  stateOf(r: GuestLinkRecord, booking: BookingRow | null = this.deps.booking(r.bookingId)): GuestLinkState {
    if (r.revokedAt) return 'revoked';
    if (r.lockedAt) return 'locked';
    if (!booking || !OPEN.has(booking.status) || this.now() >= this.deps.window(booking).until) return 'expired';
    return r.deviceBound ? 'bound' : 'issued';
  }

  /**
   * Who may manage a booking's guest links: its own prosecutor (who knows the defence
   * lawyer and the suspect) and detention-centre staff (list and revoke only: staff
   * issuing would let staff watch).
   */
  private manager(p: Principal | null, booking: BookingRow, want: 'list' | 'issue' | 'revoke'): { issue: boolean; revoke: boolean } {
    const may = { issue: false, revoke: false };
    if (p?.kind === 'user' && p.roles.includes('prosecutor') && booking.prosecutor_id === p.userId) Object.assign(may, { issue: true, revoke: true });
    else if (p?.kind === 'user' && p.roles.includes('detention_staff')) may.revoke = true;
    const why =
      want === 'issue' && !may.issue ? 'only the booking\'s own prosecutor issues its guest links'
      : want === 'revoke' && !may.revoke ? 'you may not revoke this booking\'s guest links'
      : !may.issue && !may.revoke ? 'only the booking\'s prosecutor and detention-centre staff manage its guest links'
      : null;
    // A refusal is audited like every other (a prosecutor trying another's booking is exactly what the trail is for).
    if (why) this.refuse(403, 'forbidden', why, { actor: actorOf(p), subject: `booking:${booking.id}`, detail: { attempted: want } });
    return may;
  }

  /** The kinds of guest a booking can have a link for now (empty: none), and why not when not. */
  issuable(booking: BookingRow): Array<{ role: GuestRole; ok: boolean; why: string | null }> {
    const live = this.rowsOf(booking.id).map(recordOf).filter((r) => !['revoked', 'expired'].includes(this.stateOf(r, booking)));
    const closed = !OPEN.has(booking.status) ? `this booking is ${booking.status}` : this.now() >= this.deps.window(booking).until ? 'this booking\'s window has ended' : null;
    return guestRoles.map((role) => {
      let why = closed;
      if (!why && role === 'defence_lawyer' && booking.lawyer_role !== 'defence') why = 'this booking has a duty lawyer, not a defence lawyer';
      if (!why && role === 'defence_lawyer' && this.deps.lawyerHasAccount(booking.lawyer_id)) why = 'the defence lawyer has an account: they join by signing in';
      if (!why && role === 'bail_suspect' && booking.session_kind !== 'bail_hearing') why = 'only a bail hearing has a suspect joining from outside';
      if (!why && live.some((r) => r.role === role)) why = 'this booking already has a live link for this guest: revoke it first';
      return { role, ok: why === null, why };
    });
  }

  /** A booking's links with their state, and what the caller may do. */
  list(bookingId: string, p: Principal | null): { links: Array<GuestLinkRecord & { state: GuestLinkState }>; canIssue: Array<{ role: GuestRole; ok: boolean; why: string | null }>; canRevoke: boolean; validFrom: string; validUntil: string } {
    const booking = this.mustBooking(bookingId);
    const may = this.manager(p, booking, 'list');
    const w = this.deps.window(booking);
    return {
      links: this.rowsOf(bookingId).map(recordOf).map((r) => ({ ...r, state: this.stateOf(r, booking) })),
      canIssue: may.issue ? this.issuable(booking) : [],
      canRevoke: may.revoke,
      validFrom: w.notBefore.toISOString(),
      validUntil: w.until.toISOString(),
    };
  }

  /** Issues a link; the secret and the code are returned here once and kept only as hashes. */
  issue(bookingId: string, role: GuestRole, guestName: string, p: Principal | null, actor: string): { link: GuestLinkRecord & { state: GuestLinkState }; secret: string; code: string } {
    const booking = this.mustBooking(bookingId);
    this.manager(p, booking, 'issue');
    const name = guestName.trim();
    if (!name) throw new DomainError(400, 'bad_request', 'body.guestName must not be blank');
    const id = `G-${randomUUID()}`;
    const secret = randomBytes(32).toString('base64url');
    const code = String(randomInt(0, 10 ** CODE_DIGITS)).padStart(CODE_DIGITS, '0');
    const at = new Date().toISOString();
    this.deps.db.transaction(() => {
      // Checked inside the transaction: two issues at once cannot both pass "no live link".
      const verdict = this.issuable(booking).find((c) => c.role === role);
      if (!verdict?.ok) throw new DomainError(409, 'not_issuable', verdict?.why ?? 'cannot issue this link');
      this.deps.db
        .prepare('INSERT INTO guest_links (id, booking_id, role, guest_name, issued_by, issued_at, secret_hash, code_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(id, bookingId, role, name, actor, at, sha256(secret), codeMac(secret, code));
      const w = this.deps.window(booking);
      this.deps.audit.append({ actor, action: 'guest_link.issued', subject: `booking:${bookingId}`, detail: { linkId: id, role, guestName: name, validFrom: w.notBefore.toISOString(), validUntil: w.until.toISOString() } });
    })();
    const link = recordOf(this.row(id) as Row);
    return { link: { ...link, state: this.stateOf(link, booking) }, secret, code };
  }

  /** Revokes a link: it no longer redeems or joins, and its live party is removed at once. */
  revoke(bookingId: string, linkId: string, p: Principal | null, actor: string): GuestLinkRecord & { state: GuestLinkState } {
    const booking = this.mustBooking(bookingId);
    this.manager(p, booking, 'revoke');
    const row = this.row(linkId);
    if (!row || row.booking_id !== bookingId) throw new DomainError(404, 'not_found', `no guest link ${linkId} on booking ${bookingId}`);
    if (!row.revoked_at) {
      const at = new Date().toISOString();
      this.deps.db.transaction(() => {
        this.deps.db.prepare('UPDATE guest_links SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(at, actor, linkId);
        this.deps.audit.append({ actor, action: 'guest_link.revoked', subject: `booking:${bookingId}`, detail: { linkId, role: row.role, wasBound: row.device_hash !== null } });
      })();
      this.emit('revoked', { linkId, bookingId });
    }
    const link = recordOf(this.row(linkId) as Row);
    return { ...link, state: this.stateOf(link, booking) };
  }

  private refuse(status: 400 | 403 | 404 | 409 | 429, code: string, message: string, audit: { actor: string; subject: string; detail: Record<string, unknown>; throttleKey?: string }): never {
    const input = { actor: audit.actor, action: 'guest_link.refused', subject: audit.subject, detail: { ...audit.detail, why: message } };
    // A refusal that cannot be recorded is still a refusal; it says the trail failed.
    if (audit.throttleKey) this.refusals.append(audit.throttleKey, input);
    else this.deps.audit.record(input);
    throw new DomainError(status, code, message);
  }

  /**
   * Redeems a link on a device: checks the secret and the code and binds the link to
   * this device. `deviceSecret` is what the device already holds (its cookie) for this
   * link, if anything: the bound device may redeem again, any other is refused.
   * Returns the device secret to set as its cookie.
   */
  redeem(input: { secret: string; code: string; deviceSecret: string | null; remoteAddress: string; userAgent: string }): { holder: GuestHolder; deviceSecret: string; until: Date; notBefore: Date } {
    const from = { remoteAddress: input.remoteAddress };
    if (!SECRET_PATTERN.test(input.secret)) this.refuse(404, 'not_found', 'this guest link is not valid', { actor: 'anonymous', subject: 'guest_link', detail: from, throttleKey: `guest:${input.remoteAddress}` });
    const row = this.deps.db.prepare('SELECT * FROM guest_links WHERE secret_hash = ?').get(sha256(input.secret)) as Row | undefined;
    if (!row) this.refuse(404, 'not_found', 'this guest link is not valid', { actor: 'anonymous', subject: 'guest_link', detail: from, throttleKey: `guest:${input.remoteAddress}` });
    const actor = `guest:${row.id}`;
    const subject = `booking:${row.booking_id}`;
    const detail = { linkId: row.id, ...from };
    if (row.revoked_at) this.refuse(403, 'revoked', 'this guest link has been revoked', { actor, subject, detail });
    if (row.locked_at) this.refuse(403, 'locked', 'this guest link is locked after too many wrong codes: ask the prosecutor for a new one', { actor, subject, detail });
    const booking = this.deps.booking(row.booking_id);
    if (!booking || this.stateOf(recordOf(row), booking) === 'expired') this.refuse(403, 'expired', 'this guest link\'s session is over', { actor, subject, detail });
    // One device at a time: a bound link redeems again only on its own device. Checked before the code: another
    // device learns nothing of the code and cannot count wrong codes against it, so whoever saw the link cannot lock
    // the bound guest out of their hearing (throttled per link: these refusals have no lock to bound them).
    const ownDevice = row.device_hash !== null && input.deviceSecret !== null && sameHex(sha256(input.deviceSecret), row.device_hash);
    if (row.device_hash !== null && !ownDevice) this.refuse(409, 'in_use', 'this guest link is in use on another device', { actor, subject, detail, throttleKey: `guest-in-use:${row.id}` });
    // The code: each wrong one counts before anything else is written, so a failing trail cannot buy more tries.
    if (!/^\d{4,12}$/.test(input.code) || !sameHex(codeMac(input.secret, input.code), row.code_hash)) {
      const wrong = row.wrong_codes + 1;
      const locked = wrong >= MAX_WRONG_CODES;
      const at = new Date().toISOString();
      this.deps.db.prepare('UPDATE guest_links SET wrong_codes = ?, locked_at = COALESCE(locked_at, ?) WHERE id = ?').run(wrong, locked ? at : null, row.id);
      this.deps.db.transaction(() => {
        this.deps.audit.append({ actor, action: 'guest_link.code_wrong', subject, detail: { ...detail, wrongCodes: wrong } });
        if (locked) this.deps.audit.append({ actor, action: 'guest_link.locked', subject, detail: { ...detail, wrongCodes: wrong } });
      })();
      if (locked) throw new DomainError(403, 'locked', 'wrong code: this guest link is now locked; ask the prosecutor for a new one');
      throw new DomainError(403, 'wrong_code', `wrong code: ${MAX_WRONG_CODES - wrong} tries left`);
    }
    const deviceSecret = ownDevice ? (input.deviceSecret as string) : randomBytes(32).toString('base64url');
    const at = new Date().toISOString();
    this.deps.db.transaction(() => {
      const res = this.deps.db
        .prepare('UPDATE guest_links SET redeemed_at = COALESCE(redeemed_at, ?), device_hash = ?, device_address = ?, device_agent = ?, wrong_codes = 0 WHERE id = ? AND revoked_at IS NULL AND locked_at IS NULL AND (device_hash IS NULL OR device_hash = ?)')
        .run(at, sha256(deviceSecret), input.remoteAddress, input.userAgent.slice(0, 256), row.id, sha256(deviceSecret));
      // Two devices redeeming at once: only one binds.
      if (res.changes !== 1) throw new DomainError(409, 'in_use', 'this guest link is in use on another device');
      this.deps.audit.append({ actor, action: ownDevice ? 'guest_link.redeemed_again' : 'guest_link.redeemed', subject, detail: { ...detail, userAgent: input.userAgent.slice(0, 128) } });
    })();
    const w = this.deps.window(booking as BookingRow);
    return { holder: { linkId: row.id, bookingId: row.booking_id, role: row.role, guestName: row.guest_name }, deviceSecret, until: w.until, notBefore: w.notBefore };
  }

  /** The link a device's cookie holds, if that device is the one it is bound to and it is neither revoked nor locked. */
  holderFor(linkId: string, deviceSecret: string): GuestHolder | null {
    if (!SECRET_PATTERN.test(deviceSecret)) return null;
    const row = this.row(linkId);
    if (!row || row.revoked_at || row.locked_at || row.device_hash === null || !sameHex(sha256(deviceSecret), row.device_hash)) return null;
    return { linkId: row.id, bookingId: row.booking_id, role: row.role, guestName: row.guest_name };
  }

  /** The link as it is now (for the join rules: checked on every join). */
  current(linkId: string): (GuestLinkRecord & { state: GuestLinkState }) | null {
    const row = this.row(linkId);
    if (!row) return null;
    const r = recordOf(row);
    return { ...r, state: this.stateOf(r) };
  }

  /** A booking's join window (the links' validity). */
  windowOf(bookingId: string): { notBefore: Date; until: Date } {
    return this.deps.window(this.mustBooking(bookingId));
  }

  flush(): void {
    this.refusals.flush();
  }
}

/** The guest's device cookie: `<link id>.<device secret>`, signed by the server. */
export const guestCookie = 'plea_guest';

export function parseGuestCookie(value: string): { linkId: string; deviceSecret: string } | null {
  const m = /^(G-[0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/.exec(value);
  return m ? { linkId: m[1] as string, deviceSecret: m[2] as string } : null;
}
