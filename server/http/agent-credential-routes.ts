// REST for room-agent credentials (administrators): rotate (the new credential
// is shown once) and revoke, either dropping the room's live agent connection;
// bind to the room PC's addresses.
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
  /** Drops the room's live agent if its address is no longer allowed by the binding. */
  enforceAddress: (roomId: string) => void;
}

const AddressList = Type.Array(Type.String({ minLength: 2, maxLength: 64, pattern: '^[0-9A-Fa-f.:/]+$' }), { maxItems: 16 });

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
      response: { 200: Type.Object({ rooms: Type.Array(Type.Object({ roomId: Type.String(), name: Type.String(), nameEn: Type.String(), hasCredential: Type.Boolean(), online: Type.Boolean(), addresses: AddressList })) }) },
    },
  }, async () => ({
    rooms: deps.rooms.map((room) => ({ roomId: room.id, name: room.name, nameEn: room.nameEn, hasCredential: deps.credentials.get(room.id) !== undefined, online: deps.online(room.id), addresses: [...deps.credentials.addresses(room.id)] })),
  }));
  r.put('/api/rooms/:roomId/agent-address', {
    config: admin,
    schema: {
      description: "Binds the room agent's credential to the room PC's addresses (IPs or CIDR ranges; an empty list unbinds it); a live agent connected from elsewhere is dropped",
      params: RoomParams,
      body: Type.Object({ addresses: AddressList }, { additionalProperties: false }),
      response: { 200: Type.Object({ roomId: Type.String(), addresses: AddressList }), 400: ErrorReply, 404: ErrorReply },
    },
  }, async (req) => {
    known(req.params.roomId);
    try {
      deps.credentials.bind(req.params.roomId, req.body.addresses, actorOf(req.principal));
    } catch (err) {
      if (err instanceof RangeError) throw new DomainError(400, 'bad_request', err.message);
      throw err;
    }
    deps.enforceAddress(req.params.roomId);
    return { roomId: req.params.roomId, addresses: [...deps.credentials.addresses(req.params.roomId)] };
  });
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
