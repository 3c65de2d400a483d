// Gaps of the room agent's evidence video as the server sees them: while the
// room agent of a booking's session is disconnected, its evidence video is not
// being uploaded live and may miss time. The gap (source 'evidence', cause
// 'agent_disconnected') opens when the room party drops with its connection and
// closes when the room agent joins the booking's session again, or when the
// session ends.
import type { Logger } from '../server/logger.js';
import type { SessionRegistry } from '../server/session/session-registry.js';
import type { Session } from '../server/session/session.js';
import type { RecordingStore } from './recording-store.js';

export class EvidenceGapWatch {
  constructor(private readonly registry: SessionRegistry, private readonly store: RecordingStore, private readonly log: Logger) {
    registry.on('opened', (session) => this.watch(session));
    for (const s of registry.list()) this.watch(s);
  }

  private watch(session: Session): void {
    const bookingId = session.bookingId;
    if (!bookingId) return; // standing sessions are not recorded
    const safely = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        this.log.error({ err, bookingId }, `cannot record ${what} of the evidence video`);
      }
    };
    const closeOpen = (at: string) => {
      for (const g of this.store.openGaps(bookingId, 'evidence')) if (g.cause === 'agent_disconnected') this.store.closeGap(g.id, at, 'server');
    };
    session.on('party-left', (party, reason) => {
      if (party.role !== 'room' || reason !== 'disconnected' || session.closed) return;
      safely('a gap', () => {
        if (this.store.openGaps(bookingId, 'evidence').some((g) => g.cause === 'agent_disconnected')) return;
        if (!this.store.recording(bookingId)) this.store.started({ bookingId, roomId: session.room.id, actor: 'server' });
        this.store.openGap({ bookingId, source: 'evidence', track: 'evidence', startedAt: new Date().toISOString(), cause: 'agent_disconnected' }, 'server');
        this.log.warn({ bookingId, roomId: session.room.id }, 'room agent disconnected: evidence video gap opened');
      });
    });
    session.on('party-joined', (party) => {
      if (party.role === 'room') safely('the end of a gap', () => closeOpen(new Date().toISOString()));
    });
    session.once('closed', () => safely('the end of a gap', () => closeOpen(new Date().toISOString())));
  }
}
