// REST for guest links: the booking's prosecutor issues them; the prosecutor and
// detention-centre staff list them (state only) and revoke them; a guest redeems
// one on their device (secret and code) and asks what it is for. The device
// cookie is signed, httpOnly and SameSite; it names the link and holds the
// device's own secret.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { actorOf, allow } from '../access/authorization.js';
import { guestCookie, parseGuestCookie, type GuestLinkRecord, type GuestLinks, type GuestLinkState } from '../access/guest-links.js';
import type { JoinRules } from '../access/join-rules.js';
import { GuestLinkList, GuestSelf, IssuedGuestLink, IssueGuestLinkRequest, GuestLinkView, RedeemGuestLinkRequest } from '../access/guest-api.js';
import { IdString, ErrorReply } from '../schedule/schedule-api.js';
import { DomainError } from '../errors.js';
import { windowGraceMs } from '../session/session.js';

export interface GuestRouteDeps {
  guestLinks: GuestLinks;
  joinRules: Pick<JoinRules, 'forGuest'>;
  /** The site's clock, epoch ms. */
  nowMs(): number;
  /** Whether a party of this guest link is in a session now. */
  live(linkId: string): boolean;
  /** The server's public URL (the link sent to the guest). */
  publicUrl(): string;
}

const Params = Type.Object({ id: IdString });
const LinkParams = Type.Object({ id: IdString, linkId: Type.String({ minLength: 1, maxLength: 64, pattern: '^G-[0-9a-f-]{36}$' }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply, 409: ErrorReply, 503: ErrorReply };

/** Managing a booking's guest links: the service checks that a prosecutor is the booking's own. */
const manage = { access: allow.roles(['prosecutor', 'detention_staff']) };

/** The device's cookie for a link, if it holds one (signed by this server). */
export function guestCookieOf(req: FastifyRequest): { linkId: string; deviceSecret: string } | null {
  const raw = req.cookies[guestCookie];
  if (!raw) return null;
  const unsigned = req.unsignCookie(raw);
  return unsigned.valid && unsigned.value ? parseGuestCookie(unsigned.value) : null;
}

export const guestRoutes = (deps: GuestRouteDeps): FastifyPluginAsync => async (app) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const view = (l: GuestLinkRecord & { state: GuestLinkState }) => ({ ...l, live: deps.live(l.id) });

  r.get('/api/bookings/:id/guest-links', { config: manage, schema: { params: Params, response: { 200: GuestLinkList, ...errors } } }, async (req) => {
    const out = deps.guestLinks.list(req.params.id, req.principal);
    return { ...out, links: out.links.map(view) };
  });

  r.post(
    '/api/bookings/:id/guest-links',
    { config: { access: allow.roles(['prosecutor']) }, schema: { params: Params, body: IssueGuestLinkRequest, response: { 201: IssuedGuestLink, ...errors } } },
    async (req, reply) => {
      const out = deps.guestLinks.issue(req.params.id, req.body.role, req.body.guestName, req.principal, actorOf(req.principal));
      // The secret goes in the fragment: browsers never send it, so no server or proxy logs it.
      return reply.code(201).send({ link: view(out.link), url: `${deps.publicUrl()}/guest#${out.secret}`, code: out.code });
    }
  );

  r.post('/api/bookings/:id/guest-links/:linkId/revoke', { config: manage, schema: { params: LinkParams, response: { 200: GuestLinkView, ...errors } } }, async (req) =>
    view(deps.guestLinks.revoke(req.params.id, req.params.linkId, req.principal, actorOf(req.principal)))
  );

  r.post(
    '/api/guest/redeem',
    {
      config: { access: allow.public("a guest link's secret and its code (sent separately) are the authorization; wrong codes lock the link, refusals are audited") },
      schema: { body: RedeemGuestLinkRequest, response: { 200: GuestSelf, ...errors } },
    },
    async (req, reply) => {
      const held = guestCookieOf(req);
      const out = deps.guestLinks.redeem({
        secret: req.body.secret,
        code: req.body.code.trim(),
        deviceSecret: held?.deviceSecret ?? null,
        remoteAddress: req.ip,
        userAgent: String(req.headers['user-agent'] ?? ''),
      });
      // The cookie lives to the window's end and its grace; the link's state is checked on every use anyway.
      const maxAge = Math.max(60, Math.ceil((out.until.getTime() + windowGraceMs - deps.nowMs()) / 1000));
      reply.setCookie(guestCookie, `${out.holder.linkId}.${out.deviceSecret}`, { signed: true, httpOnly: true, sameSite: 'strict', secure: 'auto', path: '/', maxAge });
      return self(out.holder.linkId);
    }
  );

  const self = (linkId: string) => {
    const link = deps.guestLinks.current(linkId);
    if (!link) throw new DomainError(401, 'unauthorized', 'open your guest link and enter its code first');
    const verdict = deps.joinRules.forGuest(link, undefined);
    const w = deps.guestLinks.windowOf(link.bookingId);
    return {
      bookingId: link.bookingId,
      role: link.role,
      guestName: link.guestName,
      validFrom: w.notBefore.toISOString(),
      validUntil: w.until.toISOString(),
      joinable: verdict.ok,
      why: verdict.ok ? null : verdict.message,
    };
  };

  r.get(
    '/api/guest/me',
    { config: { access: allow.public("the guest device's own signed cookie is the authorization: it tells only its own link") }, schema: { response: { 200: GuestSelf, 401: ErrorReply } } },
    async (req) => {
      const held = guestCookieOf(req);
      const holder = held ? deps.guestLinks.holderFor(held.linkId, held.deviceSecret) : null;
      if (!holder) throw new DomainError(401, 'unauthorized', 'open your guest link and enter its code on this device first');
      return self(holder.linkId);
    }
  );
};
