// Which evidence-video segments the server takes from a room agent, and what a
// late one does to the booking's disc images. A segment is taken only
//   - for a booking of the agent's own room (its placement, or the room its
//     recording was made in),
//   - within the booking's window: from its escort buffer before the start
//     (less a few minutes' slack) until its end plus the upload grace: the
//     end is the recording's end once it ended, the scheduled end while it
//     never started, and open while the booking is live (sessions overrun).
//     The grace (evidence.uploadGraceMinutes, 8 hours by default) covers an
//     agent that keeps its segments through a network drop and sends them when
//     the network returns, later the same working day;
//   - before the booking's evidence is sealed (a custody event).
// Every refusal is answered with a typed reason and audited. A segment taken
// after a disc image was built (and before the seal) makes that image stale:
// the image records the recording's hash-chain head it was built from, and an
// image whose head is no longer the recording's is not burned (clerk-actions).
import type { AuditTrail } from '../server/audit/audit-trail.js';
import type { RecordingStore, Segment } from './recording-store.js';

export type IntakeRefusal = 'no_booking' | 'not_this_room' | 'before_window' | 'after_window' | 'sealed';

export interface BookingWindow {
  roomId: string;
  /** Epoch ms of the scheduled start less the escort buffer. */
  opensAt: number;
  /** Epoch ms of the scheduled end. */
  scheduledEnd: number;
  /** The booking is under way (escorting, in the room, in session). */
  live: boolean;
}

export interface IntakeDeps {
  window(bookingId: string): BookingWindow | null;
  recordings: RecordingStore;
  /** Whether any disc of the booking's evidence has been sealed. */
  sealed(bookingId: string): boolean;
  /** The booking has disc images built (a stored segment then makes them stale). */
  hasImages(bookingId: string): boolean;
  audit: AuditTrail;
  now(): number;
  graceMs: number;
  /** Before the window opens (agents start their picture as the room is made ready). */
  earlyMs?: number;
}

export type Admission =
  | { ok: true }
  | { ok: false; status: 403 | 404 | 409; error: IntakeRefusal; message: string };

const iso = (ms: number) => new Date(ms).toISOString();

export class EvidenceIntake {
  constructor(private readonly d: IntakeDeps) {}

  /** Whether the room's agent may store a segment for the booking now; a refusal is audited. */
  admit(roomId: string, bookingId: string, segmentName: string): Admission {
    const decision = this.decide(roomId, bookingId);
    if (!decision.ok) {
      this.d.audit.append({
        actor: `agent:${roomId}`, action: 'evidence.upload_refused', subject: `booking:${bookingId}`,
        detail: { reason: decision.error, segment: segmentName, why: decision.message },
      });
    }
    return decision;
  }

  private decide(roomId: string, bookingId: string): Admission {
    const w = this.d.window(bookingId);
    if (!w) return { ok: false, status: 404, error: 'no_booking', message: `no booking ${bookingId}` };
    const recording = this.d.recordings.recording(bookingId);
    if (w.roomId !== roomId && recording?.roomId !== roomId) return { ok: false, status: 403, error: 'not_this_room', message: `booking ${bookingId} is not in room ${roomId}` };
    if (this.d.sealed(bookingId)) return { ok: false, status: 409, error: 'sealed', message: `the evidence of booking ${bookingId} is sealed: nothing may be added to it` };
    const now = this.d.now();
    const opens = w.opensAt - (this.d.earlyMs ?? 15 * 60_000);
    if (now < opens && !w.live && recording?.status !== 'recording') {
      return { ok: false, status: 409, error: 'before_window', message: `booking ${bookingId} takes uploads from ${iso(opens)}` };
    }
    const open = w.live || recording?.status === 'recording';
    if (!open) {
      const ended = recording?.endedAt ? Date.parse(recording.endedAt) : w.scheduledEnd;
      const closes = ended + this.d.graceMs;
      if (now > closes) {
        return { ok: false, status: 409, error: 'after_window', message: `booking ${bookingId} took uploads until ${iso(closes)} (its end ${iso(ended)} and ${Math.round(this.d.graceMs / 60_000)} minutes' grace)` };
      }
    }
    return { ok: true };
  }

  /** After a segment was stored: a built image is stale now; said in the audit trail. */
  stored(roomId: string, bookingId: string, segment: Segment): void {
    if (!this.d.hasImages(bookingId)) return;
    this.d.audit.append({
      actor: `agent:${roomId}`, action: 'evidence.image_stale', subject: `booking:${bookingId}`,
      detail: { segment: segment.path, seq: segment.seq, chainHash: segment.chainHash, why: 'a segment arrived after the disc images were built: build them again before burning' },
    });
  }
}
