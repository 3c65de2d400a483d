// REST for the schedule. Every route has its schema; bad input gets 400 with a
// message naming the field; a request that does not fit gets 409 with the
// reason and up to three alternatives.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { randomUUID } from 'node:crypto';
import type { BookingRequest } from '../schedule/model.js';
import { AffectsLiveBookings, ScheduleError, type PlaceOutcome, type ScheduleService } from '../schedule/schedule-service.js';
import { viewOf } from '../schedule/schedule-store.js';
import { actorOf, allow } from '../access/authorization.js';
import {
  AdvanceBookingRequest,
  BookingView,
  CancelBookingRequest,
  Conflict,
  CreateBookingRequest,
  DayView,
  DutyShiftRequest,
  ErrorReply,
  AffectedBooking,
  AffectedChoice,
  AffectsLiveBookingsReply,
  IdString,
  IsoDateString,
  MoveBookingRequest,
  OverrunRequest,
  PlaceOutcome as PlaceOutcomeSchema,
  PlanDayRequest,
  Placement,
  RejectReason,
  ReservedWindowRequest,
  RoomStatusRequest,
} from '../schedule/schedule-api.js';

const Headers = Type.Object({ authorization: Type.Optional(Type.String({ maxLength: 512 })) });
const IdParams = Type.Object({ id: IdString });
const ChoiceQuery = Type.Object({ affected: Type.Optional(AffectedChoice) }, { additionalProperties: false });
const Applied = Type.Object({ affected: Type.Array(AffectedBooking) });
const errors = { 400: ErrorReply, 401: ErrorReply, 404: ErrorReply, 409: Type.Union([Conflict, ErrorReply]) };

export function toRequest(body: Static<typeof CreateBookingRequest>): BookingRequest {
  const base = {
    requestId: randomUUID(),
    caseNumber: body.caseNumber,
    detaineeId: body.detaineeId,
    procuratorateId: body.procuratorateId,
    priorityClass: body.priorityClass,
    prosecutorId: body.prosecutorId,
    sessionKind: body.sessionKind,
    date: body.date,
    requestedStart: body.requestedStart,
    durationMin: body.durationMin,
    ...(body.escortBeforeMin !== undefined ? { escortBeforeMin: body.escortBeforeMin } : {}),
    ...(body.changeoverAfterMin !== undefined ? { changeoverAfterMin: body.changeoverAfterMin } : {}),
    ...(body.roomId ? { roomId: body.roomId } : {}),
  };
  if (body.lawyerRole === 'defence') {
    if (!body.lawyerId) throw new ScheduleError(400, 'bad_request', 'lawyerId is required for a defence lawyer');
    return { ...base, lawyerRole: 'defence', lawyerId: body.lawyerId };
  }
  return { ...base, lawyerRole: 'duty', ...(body.lawyerId ? { lawyerId: body.lawyerId } : {}) };
}

const reasonText: Record<string, string> = {
  no_room_of_kind: 'no active room of a kind this session may use',
  outside_window: 'outside the working windows of the detention centre',
  lawyer_not_on_duty: 'no duty lawyer on duty (or the named one is not) at that time',
  detainee_busy: 'the detainee is held by another booking then',
  prosecutor_busy: 'the prosecutor has another session then',
  lawyer_busy: 'the lawyer has another session then',
  reserved: 'that time is reserved for higher-level or sibling procuratorates',
  room_busy: 'the room is taken then',
};

/** The first `null` anywhere in a body, as a field path: no schedule field takes null, and none may be coerced from it. */
function firstNull(value: unknown, path: string): string | null {
  if (value === null) return path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = firstNull(value[i], `${path}.${i}`);
      if (p) return p;
    }
  } else if (typeof value === 'object' && value !== undefined) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const p = firstNull(v, `${path}.${k}`);
      if (p) return p;
    }
  }
  return null;
}

/** A change refused because it affects live bookings: 409 with the list. */
async function orAffected<T>(reply: FastifyReply, fn: () => T | Promise<T>): Promise<T | FastifyReply> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AffectsLiveBookings) return reply.code(409).send({ error: 'affects_live_bookings' as const, message: err.message, affected: err.affected });
    throw err;
  }
}

function conflictOr<T>(reply: FastifyReply, out: PlaceOutcome, ok: (o: Extract<PlaceOutcome, { ok: true }>) => T) {
  if (out.ok) return ok(out);
  return reply.code(409).send({ error: 'conflict' as const, reason: out.reason, message: reasonText[out.reason] ?? out.reason, alternatives: out.alternatives });
}

// Who may do what with the schedule (enforced by the access-control hook).
/** Reading the day, bookings, roster and reserved windows. */
const readSchedule = { access: allow.roles(['detention_staff', 'office'], { scopes: ['schedule:read'] }) };
/** Placing and changing bookings: staff, and machine clients booking for other procuratorates. */
const writeBookings = { access: allow.roles(['detention_staff'], { scopes: ['bookings:write'] }) };
/** The site's own arrangements (roster, reserved windows, room status): staff only. Nobody here gets a right to join a session. */
const runSite = { access: allow.roles(['detention_staff']) };

export const scheduleRoutes = (service: ScheduleService): FastifyPluginAsync => async (app) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const actor = (req: { principal: Parameters<typeof actorOf>[0] }) => actorOf(req.principal);
  // The edge's validator coerces types; null must never become 0 or "null" here.
  app.addHook('preValidation', async (req) => {
    const at = firstNull(req.body, 'body');
    if (at) throw new ScheduleError(400, 'bad_request', `${at} must not be null`);
  });

  r.get('/api/schedule/day', { config: readSchedule, schema: { querystring: Type.Object({ date: Type.Optional(IsoDateString) }), response: { 200: DayView, 400: ErrorReply } } }, async (req) =>
    service.day(req.query.date ?? service.clock.local().date)
  );

  r.post('/api/bookings/check', { config: readSchedule, schema: { body: CreateBookingRequest, response: { 200: PlaceOutcomeSchema, 400: ErrorReply } } }, async (req) =>
    service.check(toRequest(req.body))
  );

  r.post('/api/bookings', { config: writeBookings, schema: { headers: Headers, body: CreateBookingRequest, response: { 201: BookingView, ...errors } } }, async (req, reply) =>
    conflictOr(reply, service.create(toRequest(req.body), actor(req)), (o) => reply.code(201).send(o.booking))
  );

  r.post(
    '/api/bookings/plan',
    {
      config: writeBookings, schema: {
        headers: Headers,
        body: PlanDayRequest,
        response: { 200: Type.Object({ placed: Type.Array(BookingView), unplaced: Type.Array(Type.Object({ caseNumber: Type.String(), reason: RejectReason })) }), 400: ErrorReply },
      },
    },
    async (req) => service.plan(req.body.date, req.body.requests.map(toRequest), actor(req))
  );

  r.get(
    '/api/bookings/:id',
    {
      config: readSchedule, schema: {
        params: IdParams,
        response: {
          200: Type.Object({
            booking: BookingView,
            history: Type.Array(Type.Object({ seq: Type.Integer(), at: Type.String(), actor: Type.String(), action: Type.String(), note: Type.Union([Type.String(), Type.Null()]) })),
            notices: Type.Array(Type.Object({ at: Type.String(), recipient: Type.String(), message: Type.String() })),
          }),
          404: ErrorReply,
        },
      },
    },
    async (req) => {
      const row = service.store.row(req.params.id);
      if (!row) throw new ScheduleError(404, 'not_found', `no booking ${req.params.id}`);
      return { booking: viewOf(row), history: service.store.historyOf(row.id), notices: service.store.noticesOf(row.id) };
    }
  );

  r.post('/api/bookings/:id/move', { config: writeBookings, schema: { headers: Headers, params: IdParams, body: MoveBookingRequest, response: { 200: BookingView, ...errors } } }, async (req, reply) =>
    conflictOr(reply, service.move(req.params.id, req.body, actor(req)), (o) => o.booking)
  );

  r.post('/api/bookings/:id/cancel', { config: writeBookings, schema: { headers: Headers, params: IdParams, body: CancelBookingRequest, response: { 200: BookingView, ...errors } } }, async (req) =>
    service.cancel(req.params.id, actor(req), req.body.note ?? null, req.body.version)
  );

  r.post('/api/bookings/:id/no-show', { config: runSite, schema: { headers: Headers, params: IdParams, body: CancelBookingRequest, response: { 200: BookingView, ...errors } } }, async (req) =>
    service.noShow(req.params.id, actor(req), req.body.note ?? null, req.body.version)
  );

  r.post('/api/bookings/:id/status', { config: runSite, schema: { headers: Headers, params: IdParams, body: AdvanceBookingRequest, response: { 200: BookingView, ...errors } } }, async (req) =>
    service.advance(req.params.id, req.body.status, actor(req), req.body.version)
  );

  r.post(
    '/api/bookings/:id/overrun',
    {
      config: runSite, schema: {
        headers: Headers,
        params: IdParams,
        body: OverrunRequest,
        response: {
          200: Type.Object({
            booking: BookingView,
            changed: Type.Array(Type.Object({ bookingId: Type.String(), before: Placement, after: Placement })),
            displaced: Type.Array(Type.String()),
          }),
          ...errors,
        },
      },
    },
    async (req) => service.overrun(req.params.id, req.body.newEnd, actor(req))
  );

  // Duty-lawyer roster
  const ShiftView = Type.Object({ id: Type.String(), lawyerId: Type.String(), date: Type.String(), start: Type.Integer(), end: Type.Integer() });
  const changeErrors = { 400: ErrorReply, 401: ErrorReply, 404: ErrorReply, 409: Type.Union([AffectsLiveBookingsReply, ErrorReply]) };
  r.get('/api/roster', { config: readSchedule, schema: { querystring: Type.Object({ date: IsoDateString }), response: { 200: Type.Object({ shifts: Type.Array(ShiftView) }), 400: ErrorReply } } }, async (req) => ({
    shifts: service.store.dutyShiftRows(service.horizon.realDate('date', req.query.date)),
  }));
  r.post('/api/roster', { config: runSite, schema: { headers: Headers, body: DutyShiftRequest, response: { 201: ShiftView, 400: ErrorReply } } }, async (req, reply) =>
    reply.code(201).send(service.addDutyShift(req.body, actor(req)))
  );
  r.delete(
    '/api/roster/:id',
    { config: runSite, schema: { headers: Headers, params: IdParams, querystring: ChoiceQuery, response: { 200: Applied, ...changeErrors } } },
    async (req, reply) => orAffected(reply, () => ({ affected: service.removeDutyShift(req.params.id, req.query.affected ?? 'refuse', actor(req)) }))
  );

  // Reserved windows for priority requesters
  const WindowView = Type.Intersect([Type.Object({ id: Type.String() }), Type.Omit(ReservedWindowRequest, ['affected'])]);
  r.get('/api/reserved-windows', { config: readSchedule, schema: { response: { 200: Type.Object({ windows: Type.Array(WindowView) }) } } }, async () => ({ windows: service.store.reservedWindows() }));
  r.post(
    '/api/reserved-windows',
    { config: runSite, schema: { headers: Headers, body: ReservedWindowRequest, response: { 201: Type.Intersect([WindowView, Applied]), ...changeErrors } } },
    async (req, reply) =>
      orAffected(reply, () => {
        const { affected, ...w } = req.body;
        const out = service.addReservedWindow(w, affected ?? 'refuse', actor(req));
        return reply.code(201).send({ ...out.window, affected: out.applied });
      })
  );
  r.delete('/api/reserved-windows/:id', { config: runSite, schema: { headers: Headers, params: IdParams, response: { 204: Type.Null(), 404: ErrorReply } } }, async (req, reply) => {
    service.removeReservedWindow(req.params.id, actor(req));
    return reply.code(204).send(null);
  });

  r.put(
    '/api/rooms/:id/status',
    { config: runSite, schema: { headers: Headers, params: IdParams, body: RoomStatusRequest, response: { 200: Type.Object({ id: Type.String(), status: Type.String(), affected: Type.Array(AffectedBooking) }), ...changeErrors } } },
    async (req, reply) =>
      orAffected(reply, () => ({ id: req.params.id, status: req.body.status, affected: service.setRoomStatus(req.params.id, req.body.status, req.body.affected ?? 'refuse', actor(req)) }))
  );
};
