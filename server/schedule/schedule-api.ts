// The schedule's REST shapes: TypeBox schemas used by the routes (validation,
// serialisation, OpenAPI) and, as types only, by the staff page.
import Type, { type Static } from 'typebox';

export const IsoDateString = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD, site calendar' });
export const MinuteOfDay = Type.Integer({ minimum: 0, maximum: 1440, description: 'minutes since local midnight' });
const Text = (max = 64) => Type.String({ minLength: 1, maxLength: max });

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
    roomId: Type.Optional(Text(64)),
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
    roomId: Type.Optional(Text(64)),
    date: Type.Optional(IsoDateString),
    /** Only say whether it would fit (and the alternatives); store nothing. */
    dryRun: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false }
);
export const CancelBookingRequest = Type.Object({ note: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });
export const AdvanceBookingRequest = Type.Object(
  { status: Type.Union([Type.Literal('scheduled'), Type.Literal('escorting'), Type.Literal('in_room'), Type.Literal('finished')]) },
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
    roomId: Type.Optional(Text(64)),
    roomKind: Type.Optional(Type.Union([Type.Literal('interrogation'), Type.Literal('plea')])),
  },
  { additionalProperties: false }
);
export const RoomStatusRequest = Type.Object({ status: Type.Union([Type.Literal('active'), Type.Literal('out_of_service')]) }, { additionalProperties: false });
export const JoinLinks = Type.Object({
  prosecutor: Type.String(),
  lawyer: Type.String(),
  /** Bail hearings: the suspect on bail joins from outside, as a guest of the session. */
  suspect: Type.Optional(Type.String()),
  validFrom: Type.String(),
  validUntil: Type.String(),
});
export const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() });
