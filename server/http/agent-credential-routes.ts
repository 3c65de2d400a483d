// REST for room-agent credentials (administrators): rotate (the new credential
// is shown once) and revoke; either drops the room's live agent connection.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { actorOf, allow } from '../access/authorization.js';
import type { AgentCredentials } from '../access/agent-credentials.js';
import { DomainError } from '../errors.js';

const RoomParams = Type.Object({ roomId: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }) });
const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() });
const admin = { access: allow.roles(['administrator']) };

export interface AgentCredentialDeps {
  credentials: AgentCredentials;
  rooms: ReadonlyArray<{ id: string; name: string; nameEn: string }>;
  disconnect: (roomId: string) => void;
  online: (roomId: string) => boolean;
}

export const agentCredentialRoutes = (deps: AgentCredentialDeps): FastifyPluginAsync => async (app) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const ids = new Set(deps.rooms.map((room) => room.id));
  const known = (roomId: string) => {
    if (!ids.has(roomId)) throw new DomainError(404, 'not_found', `no room ${roomId}`);
  };
  r.get('/api/rooms/agent-credentials', {
    config: admin,
    schema: {
      description: 'Each room: whether its agent has a working credential (never the credential) and whether the agent is connected',
      response: { 200: Type.Object({ rooms: Type.Array(Type.Object({ roomId: Type.String(), name: Type.String(), nameEn: Type.String(), hasCredential: Type.Boolean(), online: Type.Boolean() })) }) },
    },
  }, async () => ({
    rooms: deps.rooms.map((room) => ({ roomId: room.id, name: room.name, nameEn: room.nameEn, hasCredential: deps.credentials.get(room.id) !== undefined, online: deps.online(room.id) })),
  }));
  r.post('/api/rooms/:roomId/agent-credential', {
    config: admin,
    schema: { description: 'Issues a new credential for the room agent (shown once); the old one stops working and the live agent is disconnected', params: RoomParams, response: { 200: Type.Object({ roomId: Type.String(), credential: Type.String() }), 404: ErrorReply } },
  }, async (req) => {
    known(req.params.roomId);
    const credential = deps.credentials.rotate(req.params.roomId, actorOf(req.principal));
    deps.disconnect(req.params.roomId);
    return { roomId: req.params.roomId, credential };
  });
  r.delete('/api/rooms/:roomId/agent-credential', {
    config: admin,
    schema: { description: 'Revokes the room agent credential; the live agent is disconnected', params: RoomParams, response: { 204: Type.Null(), 404: ErrorReply } },
  }, async (req, reply) => {
    known(req.params.roomId);
    deps.credentials.revoke(req.params.roomId, actorOf(req.principal));
    deps.disconnect(req.params.roomId);
    return reply.code(204).send(null);
  });
};
