/**
 * Domain types of the schedule: rooms, working windows, reserved windows, the duty-lawyer roster,
 * booking requests and bookings.
 *
 * Time: every instant is an explicit calendar date of the detention centre (`IsoDate`, 'YYYY-MM-DD')
 * plus whole minutes since local midnight of that date (`Minute`, 0..1440). Intervals are half-open
 * `[start, end)`. Nothing here depends on the process time zone; the weekday of a date is the
 * calendar weekday of that date. Nothing crosses midnight (working windows lie inside one day).
 *
 * Buffers: a booking's session is `[start, end)`. Around it:
 * - the **room slot** `[start - escortBeforeMin, end + changeoverAfterMin)` is what the room is held
 *   for; it must lie inside one working window and never overlaps another room slot of that room;
 * - the **detainee span** `[start - escortBeforeMin, end + escortBeforeMin)` (escort in, session,
 *   escort back) is what the detainee is held for;
 * - the prosecutor and the lawyer are held for the session `[start, end)` only.
 * `bail_hearing` needs no detainee escort: its escort buffer is always 0.
 */

/** Calendar date of the detention centre, 'YYYY-MM-DD'. */
export type IsoDate = string;
/** Whole minutes since local midnight of an explicit `IsoDate`, 0..1440. */
export type Minute = number;
/** ISO weekday: 1 = Monday … 7 = Sunday. */
export type IsoWeekday = 1 | 2 | 3 | 4 | 5 | 6 | 7;

export type RoomKind = 'interrogation' | 'plea';
/** `higher` (higher-level procuratorate) and `sibling` are served before `district`; see PRIORITY_RANK. */
export type PriorityClass = 'higher' | 'sibling' | 'district';
export type LawyerRole = 'duty' | 'defence';
export type SessionKind = 'arraignment' | 'plea_hearing' | 'bail_hearing';
export type BookingId = string;
/** `displaced`: a booking that an overrun pushed out and that could not be re-placed; holds no resources. */
export type BookingStatus = 'booked' | 'cancelled' | 'no_show' | 'displaced';

/** Why a request could not be placed at the requested time (or at the time asked in a move). */
export type RejectReason =
  | 'no_room_of_kind'
  | 'outside_window'
  | 'lawyer_not_on_duty'
  | 'detainee_busy'
  | 'prosecutor_busy'
  | 'lawyer_busy'
  | 'reserved'
  | 'room_busy';

/** Higher rank is served first; a reserved window of class C admits requests of rank >= rank(C). */
export const PRIORITY_RANK: Readonly<Record<PriorityClass, number>> = { higher: 2, sibling: 1, district: 0 };

/** Half-open `[start, end)` in minutes of one date. */
export interface TimeRange {
  readonly start: Minute;
  readonly end: Minute;
}

export interface Room {
  readonly id: string;
  readonly kind: RoomKind;
  /** false = out of service: nothing new is placed in it. */
  readonly active: boolean;
}

/**
 * Time held for a priority class: requests of a lower class may not have their room slot overlap it;
 * the class itself (and classes above it) may use it, and may also use unreserved time.
 * Applies to `roomId` if given, else to every room of `roomKind` if given, else to every room.
 * Applies on `date` if given, else on every `weekday` if given, else every day.
 */
export interface ReservedWindow {
  readonly id: string;
  readonly priorityClass: Exclude<PriorityClass, 'district'>;
  readonly start: Minute;
  readonly end: Minute;
  readonly date?: IsoDate;
  readonly weekday?: IsoWeekday;
  readonly roomId?: string;
  readonly roomKind?: RoomKind;
}

/** A duty lawyer is on duty during `[start, end)` of `date`; a session must lie inside one shift. */
export interface DutyShift {
  readonly lawyerId: string;
  readonly date: IsoDate;
  readonly start: Minute;
  readonly end: Minute;
}

export interface Site {
  readonly rooms: readonly Room[];
  /** Working windows of the detention centre per ISO weekday; a missing weekday has none. */
  readonly weeklyWindows: Readonly<Partial<Record<IsoWeekday, readonly TimeRange[]>>>;
  /** Per-date replacement of the weekly windows (holidays: `[]`, extra days, shortened days). */
  readonly dateWindows?: Readonly<Record<IsoDate, readonly TimeRange[]>>;
  readonly reservedWindows: readonly ReservedWindow[];
  readonly dutyRoster: readonly DutyShift[];
  /**
   * Room kinds a session kind may use, most preferred first. Default: plea hearings prefer plea
   * workrooms and fall back to interrogation rooms; arraignments and bail hearings prefer
   * interrogation rooms (keeping plea workrooms free) and fall back to plea workrooms.
   * Set `plea_hearing: ['plea']` to forbid the fallback.
   */
  readonly roomKinds: Readonly<Record<SessionKind, readonly RoomKind[]>>;
  /** Room slots offered by alternatives and by planning begin on this grid (minutes since midnight). */
  readonly slotMinutes: number;
  readonly defaultEscortBeforeMin: number;
  readonly defaultChangeoverAfterMin: number;
}

interface BookingRequestBase {
  /** Caller's id of the request (kept on the booking; also the last tie-breaker of planning). */
  readonly requestId: string;
  readonly caseNumber: string;
  readonly detaineeId: string;
  readonly procuratorateId: string;
  readonly priorityClass: PriorityClass;
  readonly prosecutorId: string;
  readonly sessionKind: SessionKind;
  readonly date: IsoDate;
  /** Requested session start (not the escort start). */
  readonly requestedStart: Minute;
  readonly durationMin: number;
  /** Defaults to the site's; always 0 for `bail_hearing`. */
  readonly escortBeforeMin?: number;
  /** Defaults to the site's. */
  readonly changeoverAfterMin?: number;
  /** Pins the room (staff choice, or taking up an offered alternative). */
  readonly roomId?: string;
}

/** A `duty` lawyer may be left open: the scheduler then picks a free on-duty lawyer. */
export type LawyerChoice =
  | { readonly lawyerRole: 'duty'; readonly lawyerId?: string }
  | { readonly lawyerRole: 'defence'; readonly lawyerId: string };

export type BookingRequest = BookingRequestBase & LawyerChoice;

/** Where and when a booking sits (also the shape of an offered alternative). */
export interface Placement {
  readonly date: IsoDate;
  readonly roomId: string;
  /** Session start and end; buffers are on the booking. */
  readonly start: Minute;
  readonly end: Minute;
  /** The named lawyer, or the duty lawyer the scheduler picked. */
  readonly lawyerId: string;
}

export interface Booking extends Placement {
  readonly id: BookingId;
  readonly request: BookingRequest;
  readonly escortBeforeMin: number;
  readonly changeoverAfterMin: number;
  readonly status: BookingStatus;
}

export const DEFAULT_ROOMS: readonly Room[] = [
  ...[1, 2, 3, 4, 5, 6].map((n): Room => ({ id: `interrogation-${n}`, kind: 'interrogation', active: true })),
  ...[1, 2, 3, 4].map((n): Room => ({ id: `plea-${n}`, kind: 'plea', active: true })),
];

export const DEFAULT_ROOM_KINDS: Readonly<Record<SessionKind, readonly RoomKind[]>> = {
  plea_hearing: ['plea', 'interrogation'],
  arraignment: ['interrogation', 'plea'],
  bail_hearing: ['interrogation', 'plea'],
};

const TWO_BLOCKS: readonly TimeRange[] = [
  { start: 9 * 60, end: 11 * 60 },
  { start: 14 * 60, end: 16 * 60 },
];

/**
 * The default site: 6 interrogation rooms and 4 plea workrooms, 09:00–11:00 and 14:00–16:00
 * Monday–Friday, 5-minute grid, escort 3 min before, changeover 0 min after. A 12-minute session
 * then holds its room 15 minutes, so each room does 8 sessions per two-hour block: 80 per block on
 * 10 rooms. (Escort 3 + changeover 3 would hold a room 18 minutes: at most 6 per room per block.)
 */
export function defaultSite(overrides: Partial<Site> = {}): Site {
  return {
    rooms: DEFAULT_ROOMS,
    weeklyWindows: { 1: TWO_BLOCKS, 2: TWO_BLOCKS, 3: TWO_BLOCKS, 4: TWO_BLOCKS, 5: TWO_BLOCKS },
    reservedWindows: [],
    dutyRoster: [],
    roomKinds: DEFAULT_ROOM_KINDS,
    slotMinutes: 5,
    defaultEscortBeforeMin: 3,
    defaultChangeoverAfterMin: 0,
    ...overrides,
  };
}
