// The schedule's REST shapes: TypeBox schemas used by the routes (validation,
// serialisation, OpenAPI) and, as types only, by the staff page.
import Type, { type Static } from 'typebox';

export const IsoDateString = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD, site calendar' });
export const MinuteOfDay = Type.Integer({ minimum: 0, maximum: 1440, description: 'minutes since local midnight' });
/**
 * Printable text: no control or invisible formatting characters, no leading or trailing blank, so
 * an id cannot be blank, hide a second value, or look like another.
 */
export const PRINTABLE = '^(?=\\S)(?=[\\s\\S]*\\S$)[^\\x00-\\x1f\\x7f-\\x9f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2069\\ufeff]+$';
const Text = (max = 64) => Type.String({ minLength: 1, maxLength: max, pattern: PRINTABLE });
/** Ids the server makes (bookings, shifts, windows) and room ids: letters, digits and . _ : - only. */
export const IdString = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' });
/** What happens to live bookings a change affects: refuse the change (default), or apply it and move or flag them. */
export const AffectedChoice = Type.Union([Type.Literal('refuse'), Type.Literal('apply')], { description: 'refuse (default): 409 with the affected bookings; apply: move or flag them and tell their parties' });
export const AttentionReason = Type.Union([Type.Literal('room_out_of_service'), Type.Literal('lawyer_not_on_duty'), Type.Literal('reserved')]);
export const AffectedBooking = Type.Object({
  id: Type.String(),
  date: Type.String(),
  roomId: Type.String(),
  start: Type.Integer(),
  status: Type.String(),
  priorityClass: Type.String(),
  reasons: Type.Array(AttentionReason),
  outcome: Type.Optional(Type.Union([Type.Literal('moved'), Type.Literal('flagged')])),
});
export const AffectsLiveBookingsReply = Type.Object({ error: Type.Literal('affects_live_bookings'), message: Type.String(), affected: Type.Array(AffectedBooking) });

export const PriorityClass = Type.Union([Type.Literal('district'), Type.Literal('higher'), Type.Literal('sibling')]);
export const SessionKind = Type.Union([Type.Literal('arraignment'), Type.Literal('plea_hearing'), Type.Literal('bail_hearing')]);
export const LawyerRole = Type.Union([Type.Literal('duty'), Type.Literal('defence')]);
export const LiveStatus = Type.Union([Type.Literal('scheduled'), Type.Literal('escorting'), Type.Literal('in_room'), Type.Literal('in_session'), Type.Literal('finished'), Type.Literal('no_show'), Type.Literal('cancelled'), Type.Literal('displaced')]);
export const RejectReason = Type.Union([Type.Literal('no_room_of_kind'), Type.Literal('outside_window'), Type.Literal('lawyer_not_on_duty'), Type.Literal('detainee_busy'), Type.Literal('prosecutor_busy'), Type.Literal('lawyer_busy'), Type.Literal('reserved'), Type.Literal('room_busy')]);

/** What staff ask for: a booking request. */
export const CreateBookingRequest = Type.Object(
  {
    caseNumber: Text(64),
    detaineeId: Text(64),
    procuratorateId: Text(64),
    priorityClass: PriorityClass,
    prosecutorId: Text(64),
    lawyerRole: LawyerRole,
    lawyerId: Type.Optional(Text(64)),
    sessionKind: SessionKind,
    date: IsoDateString,
    requestedStart: MinuteOfDay,
    durationMin: Type.Integer({ minimum: 5, maximum: 240 }),
    escortBeforeMin: Type.Optional(Type.Integer({ minimum: 0, maximum: 120 })),
    changeoverAfterMin: Type.Optional(Type.Integer({ minimum: 0, maximum: 120 })),
    roomId: Type.Optional(IdString),
  },
  { additionalProperties: false }
);
export type CreateBookingRequest = Static<typeof CreateBookingRequest>;

export const BookingView = Type.Object({
  id: Type.String(),
  date: Type.String(),
  roomId: Type.String(),
  start: Type.Integer(),
  end: Type.Integer(),
  escortBeforeMin: Type.Integer(),
  changeoverAfterMin: Type.Integer(),
  status: LiveStatus,
  caseNumber: Type.String(),
  detaineeId: Type.String(),
  procuratorateId: Type.String(),
  priorityClass: PriorityClass,
  prosecutorId: Type.String(),
  lawyerRole: LawyerRole,
  lawyerId: Type.String(),
  sessionKind: SessionKind,
  requestedStart: Type.Integer(),
  durationMin: Type.Integer(),
  version: Type.Integer(),
  updatedAt: Type.String(),
});
export type BookingViewT = Static<typeof BookingView>;

export const Placement = Type.Object({ date: Type.String(), roomId: Type.String(), start: Type.Integer(), end: Type.Integer(), lawyerId: Type.String() });

export const PlaceOutcome = Type.Union([
  Type.Object({ ok: Type.Literal(true), booking: BookingView }),
  Type.Object({ ok: Type.Literal(false), reason: RejectReason, alternatives: Type.Array(Placement) }),
]);
export type PlaceOutcomeT = Static<typeof PlaceOutcome>;

export const Conflict = Type.Object({ error: Type.Literal('conflict'), reason: RejectReason, message: Type.String(), alternatives: Type.Array(Placement) });

export const DayView = Type.Object({
  date: Type.String(),
  windows: Type.Array(Type.Object({ start: Type.Integer(), end: Type.Integer() })),
  rooms: Type.Array(
    Type.Object({
      id: Type.String(),
      kind: Type.Union([Type.Literal('interrogation'), Type.Literal('plea')]),
      name: Type.String(),
      nameEn: Type.String(),
      status: Type.Union([Type.Literal('active'), Type.Literal('out_of_service')]),
    })
  ),
  bookings: Type.Array(BookingView),
  /** Live bookings that stand against the rules as they now are (room out of service, lawyer off duty, reserved time). */
  attention: Type.Array(Type.Object({ bookingId: Type.String(), reasons: Type.Array(AttentionReason) })),
  capacity: Type.Object({
    designedPerBlock: Type.Integer(),
    blocks: Type.Array(
      Type.Object({ start: Type.Integer(), end: Type.Integer(), designed: Type.Integer(), scheduled: Type.Integer(), inProgress: Type.Integer(), finished: Type.Integer() })
    ),
  }),
  now: Type.Object({ date: Type.String(), minute: Type.Integer() }),
});
export type DayViewT = Static<typeof DayView>;

export const MoveBookingRequest = Type.Object(
  {
    start: MinuteOfDay,
    roomId: Type.Optional(IdString),
    date: Type.Optional(IsoDateString),
    /** Only say whether it would fit (and the alternatives); store nothing. */
    dryRun: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false }
);
/** The booking's version the staff member saw: the step is refused (409 status_changed) if it changed since. */
const SeenVersion = Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'the booking version the caller saw (compare-and-set)' });
export const CancelBookingRequest = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 500, pattern: '^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$' })), version: Type.Optional(SeenVersion) },
  { additionalProperties: false }
);
export const AdvanceBookingRequest = Type.Object(
  { status: Type.Union([Type.Literal('scheduled'), Type.Literal('escorting'), Type.Literal('in_room'), Type.Literal('finished')]), version: Type.Optional(SeenVersion) },
  { additionalProperties: false }
);
export const OverrunRequest = Type.Object({ newEnd: MinuteOfDay }, { additionalProperties: false });
export const PlanDayRequest = Type.Object(
  { date: IsoDateString, requests: Type.Array(CreateBookingRequest, { minItems: 1, maxItems: 2000 }) },
  { additionalProperties: false }
);
export const DutyShiftRequest = Type.Object(
  { lawyerId: Text(64), date: IsoDateString, start: MinuteOfDay, end: MinuteOfDay },
  { additionalProperties: false }
);
export const ReservedWindowRequest = Type.Object(
  {
    priorityClass: Type.Union([Type.Literal('higher'), Type.Literal('sibling')]),
    start: MinuteOfDay,
    end: MinuteOfDay,
    date: Type.Optional(IsoDateString),
    weekday: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 })),
    roomId: Type.Optional(IdString),
    roomKind: Type.Optional(Type.Union([Type.Literal('interrogation'), Type.Literal('plea')])),
    affected: Type.Optional(AffectedChoice),
  },
  { additionalProperties: false }
);
export const RoomStatusRequest = Type.Object(
  { status: Type.Union([Type.Literal('active'), Type.Literal('out_of_service')]), affected: Type.Optional(AffectedChoice) },
  { additionalProperties: false }
);
export const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() });
