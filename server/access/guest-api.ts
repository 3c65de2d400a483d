// The guest links' REST shapes: TypeBox schemas used by the routes (validation,
// serialisation, OpenAPI) and, as types only, by the pages. Never a secret or a
// code in a listing: those are in the issue reply once.
import Type, { type Static } from 'typebox';
import { PRINTABLE } from '../schedule/schedule-api.js';

export const GuestRole = Type.Union([Type.Literal('defence_lawyer'), Type.Literal('bail_suspect')], {
  description: 'defence_lawyer: a defence lawyer without an account (joins as the lawyer); bail_suspect: a suspect on bail joining from outside (joins as a guest)',
});
export const GuestLinkState = Type.Union([Type.Literal('issued'), Type.Literal('bound'), Type.Literal('locked'), Type.Literal('revoked'), Type.Literal('expired')]);

export const GuestLinkView = Type.Object({
  id: Type.String(),
  bookingId: Type.String(),
  role: GuestRole,
  guestName: Type.String(),
  issuedBy: Type.String(),
  issuedAt: Type.String(),
  state: GuestLinkState,
  wrongCodes: Type.Integer(),
  lockedAt: Type.Union([Type.String(), Type.Null()]),
  redeemedAt: Type.Union([Type.String(), Type.Null()]),
  deviceBound: Type.Boolean(),
  deviceAddress: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  revokedBy: Type.Union([Type.String(), Type.Null()]),
  /** Whether the link's party is in the session now. */
  live: Type.Boolean(),
});
export type GuestLinkViewT = Static<typeof GuestLinkView>;

export const GuestLinkList = Type.Object({
  links: Type.Array(GuestLinkView),
  /** What the caller may issue now, with the reason when not (empty: the caller issues none). */
  canIssue: Type.Array(Type.Object({ role: GuestRole, ok: Type.Boolean(), why: Type.Union([Type.String(), Type.Null()]) })),
  canRevoke: Type.Boolean(),
  /** The booking's join window: links work inside it only. */
  validFrom: Type.String(),
  validUntil: Type.String(),
});
export type GuestLinkListT = Static<typeof GuestLinkList>;

export const IssueGuestLinkRequest = Type.Object(
  {
    role: GuestRole,
    /** The guest's name as booked: what the other parties see. */
    guestName: Type.String({ minLength: 1, maxLength: 64, pattern: PRINTABLE }),
  },
  { additionalProperties: false }
);

export const IssuedGuestLink = Type.Object({
  link: GuestLinkView,
  /** The link to send the guest (its secret is in the fragment, never sent to a server log). Shown once. */
  url: Type.String(),
  /** The short code to send separately (by phone). Shown once. */
  code: Type.String(),
});
export type IssuedGuestLinkT = Static<typeof IssuedGuestLink>;

export const RedeemGuestLinkRequest = Type.Object(
  { secret: Type.String({ minLength: 1, maxLength: 128 }), code: Type.String({ minLength: 1, maxLength: 16 }) },
  { additionalProperties: false }
);

/** What a guest's own page is told about its link. */
export const GuestSelf = Type.Object({
  bookingId: Type.String(),
  role: GuestRole,
  guestName: Type.String(),
  validFrom: Type.String(),
  validUntil: Type.String(),
  /** Whether its session can be joined now (inside the window, booking not over, link valid). */
  joinable: Type.Boolean(),
  why: Type.Union([Type.String(), Type.Null()]),
});
export type GuestSelfT = Static<typeof GuestSelf>;
