// A session: the live meeting for a booking (or a standing demo session of a
// room). It owns one mediasoup Router and its parties; closing the session
// closes the parties and the router.
import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import { TypedEmitter } from '../events.js';
import type { PartyRole, PartyView, ProducerView, SessionView } from '../signalling/protocol.js';
import type { RoomConfig } from '../config.js';
import { Party, RequestError, type PartyIdentity, type ProducerDirectory, type TransportListen } from './party.js';
import { PARTIES_PER_ROLE, PORTS_PER_SESSION } from './limits.js';

/** How long a party whose window ended is told before it is removed. */
export const windowGraceMs = 60_000;
import type { PartyLeaveReason, SessionCloseReason } from './close-reason.js';

export type SessionEvents = {
  'party-joined': [Party];
  'party-left': [Party, PartyLeaveReason];
  'producer-added': [ProducerView];
  'producer-removed': [{ producerId: string; partyId: string }];
  'producer-paused': [{ producerId: string; partyId: string }];
  'producer-resumed': [{ producerId: string; partyId: string }];
  closed: [reason: SessionCloseReason];
};

export class Session extends TypedEmitter<SessionEvents> implements ProducerDirectory {
  readonly openedAt = new Date();
  private readonly parties = new Map<string, Party>();
  private closedFlag = false;

  constructor(
    readonly id: string,
    readonly room: RoomConfig,
    readonly bookingId: string | null,
    readonly router: types.Router,
    private readonly listen: TransportListen
  ) {
    super();
    // Its router closes under it only when its media worker goes.
    router.observer.once('close', () => this.close('worker_died'));
  }

  static newId(): string {
    return randomUUID();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Records each join before the party exists for the others (the registry
   * writes the party and its audit entry); when it throws, the join is refused.
   */
  journal: ((party: Party, remoteAddress: string | null) => void) | null = null;

  /**
   * Admits a party. One live party per person and role: an earlier party of the
   * same person in the same role is replaced (closed with 'replaced', so its page
   * is told). A party with an end of its right is told at that end and removed
   * `graceMs` later.
   */
  addParty(role: PartyRole, displayName: string, identity?: PartyIdentity, graceMs = windowGraceMs): Party {
    if (this.closedFlag) throw new Error('session is closed');
    // The same person's earlier party in this role gives way to this one (it does not count against the cap).
    const replaced = identity?.personKey ? this.partyList().filter((p) => p.role === role && p.identity.personKey === identity.personKey) : [];
    const cap = PARTIES_PER_ROLE.get(role) ?? 1;
    if (this.partyList().filter((p) => p.role === role && !replaced.includes(p)).length >= cap) {
      throw new RequestError('limit_reached', `this session already has its ${cap === 1 ? '' : `${cap} `}${role} part${cap === 1 ? 'y' : 'ies'}`);
    }
    const party = new Party(role, displayName, this.router, this.listen, this, identity);
    // A join that cannot be recorded does not happen (and replaces nobody).
    this.journal?.(party, identity?.remoteAddress ?? null);
    for (const p of replaced) p.close('replaced');
    if (identity?.until) {
      const timers: NodeJS.Timeout[] = [];
      const removeAt = new Date(identity.until.getTime() + graceMs);
      const at = (when: Date, fn: () => void) => {
        // setTimeout holds at most ~24.8 days; a window that long is not a hearing.
        const t = setTimeout(fn, Math.max(0, Math.min(when.getTime() - Date.now(), 2 ** 31 - 1)));
        t.unref();
        timers.push(t);
      };
      at(identity.until, () => party.windowEnding(removeAt));
      at(removeAt, () => party.close('removed'));
      party.once('closed', () => timers.forEach((t) => clearTimeout(t)));
    }
    this.parties.set(party.id, party);
    party.on('producer-added', (p) => this.emit('producer-added', p));
    party.on('producer-removed', (p) => this.emit('producer-removed', p));
    party.on('producer-paused', (p) => this.emit('producer-paused', p));
    party.on('producer-resumed', (p) => this.emit('producer-resumed', p));
    party.once('closed', (reason) => {
      this.parties.delete(party.id);
      this.emit('party-left', party, reason);
    });
    this.emit('party-joined', party);
    return party;
  }

  /** The session's port budget on its worker: one session cannot starve the other rooms there. */
  assertPorts(ports: number): void {
    const held = this.partyList().reduce((n, p) => n + p.portsHeld(), 0);
    if (held + ports > PORTS_PER_SESSION) throw new RequestError('limit_reached', `this session holds ${held} of its ${PORTS_PER_SESSION} media ports`);
  }

  party(partyId: string): Party | undefined {
    return this.parties.get(partyId);
  }

  partyList(): Party[] {
    return [...this.parties.values()];
  }

  findProducer(producerId: string): { producer: types.Producer; partyId: string; role: PartyRole } | undefined {
    for (const party of this.parties.values()) {
      const producer = party.hasProducer(producerId);
      if (producer) return { producer, partyId: party.id, role: party.role };
    }
    return undefined;
  }

  partyViews(): PartyView[] {
    return this.partyList().map((p) => p.view());
  }

  producerViews(): ProducerView[] {
    return this.partyList().flatMap((p) => p.producerViews());
  }

  view(): SessionView {
    return {
      sessionId: this.id,
      roomId: this.room.id,
      roomName: this.room.name,
      roomNameEn: this.room.nameEn,
      bookingId: this.bookingId,
      parties: this.partyViews(),
      producers: this.producerViews(),
    };
  }

  private closeReasonValue: SessionCloseReason | null = null;

  /** Why the session closed, once it has. */
  get closeReason(): SessionCloseReason | null {
    return this.closeReasonValue;
  }

  close(reason: SessionCloseReason): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.closeReasonValue = reason;
    for (const party of this.partyList()) party.close('session_closed');
    if (!this.router.closed) this.router.close();
    this.emit('closed', reason);
  }
}
