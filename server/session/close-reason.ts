// Why a session or a party ended: typed values, never free text that other
// modules compare. The recorder and the explanatory note tell a media-worker
// death (a gap in the recording) from a normal end by these values.

/** Why a session closed. */
export const SessionCloseReasons = [
  /** Its router closed under it: the media worker died. The schedule reopens a booking's session. */
  'worker_died',
  /** The booking reached "finished". */
  'booking_finished',
  /** The booking was marked no-show. */
  'booking_no_show',
  /** The booking's live status was stepped back before "in room". */
  'booking_stepped_back',
  /** A standing demo session gave way to a booking's session in its room. */
  'replaced_by_booking',
  /** Its booking had already ended (a step in another process, or a lost race): released by the sweep. */
  'booking_ended',
  /** Closed by staff. */
  'staff_closed',
  /** The server is stopping. */
  'server_stopping',
  /** Found open at start: the previous run of the server ended without closing it. */
  'server_restarted',
] as const;
export type SessionCloseReason = (typeof SessionCloseReasons)[number];

/** Close reasons that interrupt a booking's session rather than end it: its recording has a gap. */
export function isInterruption(reason: SessionCloseReason): boolean {
  return reason === 'worker_died' || reason === 'server_stopping' || reason === 'server_restarted';
}

/** Why a party left its session. */
export const PartyLeaveReasons = [
  /** The party asked to leave. */
  'left',
  /** Its socket disconnected. */
  'disconnected',
  /** A newer connection of the same party (room agent, same person) took its place. */
  'replaced',
  /** Removed by the server (its right to be there ended). */
  'removed',
  /** Its session closed (see the session's close reason). */
  'session_closed',
  /** Its guest link was revoked. */
  'revoked',
] as const;
export type PartyLeaveReason = (typeof PartyLeaveReasons)[number];
