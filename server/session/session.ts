// A session: the live meeting for a booking (or a standing demo session of a
// room). It owns one mediasoup Router and its parties; closing the session
// closes the parties and the router.
import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import { TypedEmitter } from '../events.js';
import type { PartyRole, PartyView, ProducerView, SessionView } from '../signalling/protocol.js';
import type { RoomConfig } from '../config.js';
import { Party, RequestError, type ProducerDirectory, type TransportListen } from './party.js';
import { PARTIES_PER_ROLE, PORTS_PER_SESSION } from './limits.js';
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

  addParty(role: PartyRole, displayName: string, remoteAddress: string | null = null): Party {
    if (this.closedFlag) throw new Error('session is closed');
    const cap = PARTIES_PER_ROLE.get(role) ?? 1;
    if (this.partyList().filter((p) => p.role === role).length >= cap) {
      throw new RequestError('limit_reached', `this session already has its ${cap === 1 ? '' : `${cap} `}${role} part${cap === 1 ? 'y' : 'ies'}`);
    }
    const party = new Party(role, displayName, this.router, this.listen, this);
    // A join that cannot be recorded does not happen.
    this.journal?.(party, remoteAddress);
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
