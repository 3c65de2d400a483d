// REST for the site: rooms with their live session and agent status, live
// sessions, audit-trail check.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Config } from '../config.js';
import type { SessionRegistry } from '../session/session-registry.js';
import type { Signalling } from '../signalling/socket-server.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import { HealthReport, PartyRole } from '../signalling/protocol.js';
import { allow } from '../access/authorization.js';
import { allRoles } from '../access/roles.js';

export interface SiteDeps {
  config: Config;
  registry: SessionRegistry;
  signalling: Signalling;
  audit: AuditTrail;
  /** Rooms' service status as stored (staff set it on the board). */
  roomStatuses: () => Map<string, 'active' | 'out_of_service'>;
}


const RoomView = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('interrogation'), Type.Literal('plea')]),
  name: Type.String(),
  nameEn: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('out_of_service')]),
  session: Type.Union([Type.Object({ sessionId: Type.String(), parties: Type.Integer() }), Type.Null()]),
  agent: Type.Object({ online: Type.Boolean(), health: Type.Union([HealthReport, Type.Null()]) }),
});

const SessionSummary = Type.Object({
  sessionId: Type.String(),
  roomId: Type.String(),
  bookingId: Type.Union([Type.String(), Type.Null()]),
  openedAt: Type.String(),
  parties: Type.Array(Type.Object({ partyId: Type.String(), role: PartyRole, displayName: Type.String(), producers: Type.Integer(), consumers: Type.Integer() })),
});

export const siteRoutes = (deps: SiteDeps): FastifyPluginAsync => async (app) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/api/health', { config: { access: allow.public('liveness probe: says only that the server runs') }, schema: { response: { 200: Type.Object({ ok: Type.Boolean(), sessions: Type.Integer() }) } } }, async () => ({
    ok: true,
    sessions: deps.registry.list().length,
  }));

  r.get('/api/site', { config: { access: allow.roles(allRoles, { scopes: ['site:read'] }) }, schema: { response: { 200: Type.Object({ name: Type.String(), rooms: Type.Array(RoomView) }) } } }, async () => {
    const statuses = deps.roomStatuses();
    const rooms = deps.config.site.rooms.map((room) => {
      const session = deps.registry.forRoom(room.id);
      const agent = deps.signalling.agentStatus(room.id);
      return {
        id: room.id,
        kind: room.kind,
        name: room.name,
        nameEn: room.nameEn,
        status: statuses.get(room.id) ?? 'active',
        session: session ? { sessionId: session.id, parties: session.partyList().length } : null,
        agent: { online: agent.online, health: agent.health },
      };
    });
    return { name: deps.config.site.name, rooms };
  });

  // Names and booking ids of live hearings: for those who run the site.
  r.get('/api/sessions', { config: { access: allow.roles(['detention_staff', 'administrator']) }, schema: { response: { 200: Type.Object({ sessions: Type.Array(SessionSummary) }) } } }, async () => ({
    sessions: deps.registry.list().map((s) => ({
      sessionId: s.id,
      roomId: s.room.id,
      bookingId: s.bookingId,
      openedAt: s.openedAt.toISOString(),
      parties: s.partyList().map((p) => ({
        partyId: p.id,
        role: p.role,
        displayName: p.displayName,
        producers: p.producerEntries().length,
        consumers: p.consumerList().length,
      })),
    })),
  }));

  const VerifyReply = Type.Object({
    intact: Type.Boolean(),
    /** The first entry that is not as written (or the first missing one). */
    brokenAt: Type.Union([Type.Integer(), Type.Null()]),
    problem: Type.Union([Type.Object({ kind: Type.Union([Type.Literal('entry'), Type.Literal('truncated')]), seq: Type.Integer(), why: Type.String() }), Type.Null()]),
    checked: Type.Integer(),
    from: Type.Integer(),
    lastSeq: Type.Integer(),
    head: Type.Union([Type.Object({ seq: Type.Integer(), at: Type.String() }), Type.Null()]),
    warning: Type.Optional(Type.String()),
  });
  r.get(
    '/api/audit/verify',
    {
      config: { access: allow.roles(['auditor'], { scopes: ['audit:read'] }) },
      schema: {
        description: 'Checks the keyed audit chain from the last verified checkpoint (full=true: from the first entry) against the last exported signed head; runs in chunks that yield to live sessions',
        querystring: Type.Object({ full: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: VerifyReply },
      },
    },
    async (req) => {
      const r = await deps.audit.verifyAsync({ full: req.query.full ?? false });
      return { intact: r.intact, brokenAt: r.brokenAt, problem: r.problem, checked: r.checked, from: r.from, lastSeq: r.lastSeq, head: r.head, ...(r.warning ? { warning: r.warning } : {}) };
    }
  );
};
