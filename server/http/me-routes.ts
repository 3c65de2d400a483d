// REST for the signed-in person's own sessions: the bookings they may join, with
// their windows and whether they may join now, answered by the join rules
// (server/access/join-rules.ts) that also decide every join. The home page
// lists them; the web copies none of the rules.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { allow } from '../access/authorization.js';
import type { JoinRules } from '../access/join-rules.js';
import type { Config } from '../config.js';
import { DomainError } from '../errors.js';

export const MyBooking = Type.Object({
  bookingId: Type.String(),
  date: Type.String(),
  roomId: Type.String(),
  roomName: Type.String(),
  roomNameEn: Type.String(),
  /** Minutes since the site's midnight. */
  start: Type.Integer(),
  end: Type.Integer(),
  status: Type.String(),
  caseNumber: Type.String(),
  sessionKind: Type.String(),
  role: Type.Union([Type.Literal('prosecutor'), Type.Literal('lawyer'), Type.Literal('guest')]),
  /** booked: named on the booking; department: under the department head's allowance. */
  basis: Type.Union([Type.Literal('booked'), Type.Literal('department')]),
  windowOpens: Type.String({ format: 'date-time' }),
  windowCloses: Type.String({ format: 'date-time' }),
  /** The join rules admit this person now. */
  joinable: Type.Boolean(),
  /** The booking's session is open (the detainee is in the room). */
  sessionOpen: Type.Boolean(),
  why: Type.Union([Type.String(), Type.Null()]),
});

export const meRoutes = (deps: { joinRules: JoinRules; config: Config; sessionOpen: (bookingId: string) => boolean }): FastifyPluginAsync => async (app) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const rooms = new Map(deps.config.site.rooms.map((room) => [room.id, room]));
  r.get(
    '/api/me/bookings',
    {
      config: { access: allow.signedIn() },
      schema: {
        description: 'The bookings the signed-in person may join (booked on, or their department’s under the head’s allowance), from today for a week, whose window has not ended',
        response: { 200: Type.Object({ bookings: Type.Array(MyBooking) }) },
      },
    },
    async (req) => {
      const p = req.principal;
      if (p?.kind !== 'user') throw new DomainError(403, 'forbidden', 'for signed-in people only');
      return {
        bookings: deps.joinRules.bookingsOf(p).map((b) => ({
          bookingId: b.bookingId, date: b.date, roomId: b.roomId, roomName: rooms.get(b.roomId)?.name ?? b.roomId, roomNameEn: rooms.get(b.roomId)?.nameEn ?? b.roomId,
          start: b.start, end: b.end, status: b.status, caseNumber: b.caseNumber, sessionKind: b.sessionKind, role: b.role, basis: b.basis,
          windowOpens: b.notBefore.toISOString(), windowCloses: b.until.toISOString(), joinable: b.joinable, sessionOpen: deps.sessionOpen(b.bookingId), why: b.why,
        })),
      };
    }
  );
};
