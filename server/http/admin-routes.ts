// REST for the administrator: people (roles, organisation, disabling, password
// reset, logout everywhere), organisations, and API tokens for machine clients.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { actorOf, allow, type Principal } from '../access/authorization.js';
import { Accounts } from '../access/accounts.js';
import { Role, Scope, allRoles, allScopes } from '../access/roles.js';
import { DomainError } from '../errors.js';
import { UserView } from './auth-routes.js';

const admin = { access: allow.roles(['administrator']) };
const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\w.@-]+$' });
const OrganisationKind = Type.Union([
  Type.Literal('procuratorate'),
  Type.Literal('department'),
  Type.Literal('higher_procuratorate'),
  Type.Literal('sibling_procuratorate'),
  Type.Literal('law_office'),
  Type.Literal('legal_aid_office'),
  Type.Literal('detention_centre'),
]);
const organisationKinds = ['procuratorate', 'department', 'higher_procuratorate', 'sibling_procuratorate', 'law_office', 'legal_aid_office', 'detention_centre'] as const;
const Organisation = Type.Object({ id: Id, name: Type.String({ minLength: 1, maxLength: 128 }), nameEn: Type.String({ minLength: 1, maxLength: 128 }), kind: OrganisationKind, parentId: Type.Union([Id, Type.Null()]) }, { additionalProperties: false });
const TokenView = Type.Object({
  id: Type.String(), name: Type.String(), organisationId: Type.Union([Type.String(), Type.Null()]), scopes: Type.Array(Scope),
  createdAt: Type.String(), expiresAt: Type.Union([Type.String(), Type.Null()]), revokedAt: Type.Union([Type.String(), Type.Null()]), lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});
const Roles = Type.Array(Role, { maxItems: 8 });

function adminOf(req: FastifyRequest): Extract<Principal, { kind: 'user' }> {
  const p = req.principal;
  if (p?.kind !== 'user') throw new DomainError(403, 'forbidden', 'for a signed-in administrator');
  return p;
}

export const adminRoutes = (accounts: Accounts): FastifyPluginAsync => async (app) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  // The page asks for the lists instead of copying them.
  r.get(
    '/api/admin/catalogue',
    {
      config: admin,
      schema: {
        description: 'The roles people may hold, the scopes API tokens may carry and the kinds of organisation, as the server knows them',
        response: { 200: Type.Object({ roles: Type.Array(Role), scopes: Type.Array(Scope), organisationKinds: Type.Array(OrganisationKind) }) },
      },
    },
    async () => ({ roles: [...allRoles], scopes: [...allScopes], organisationKinds: [...organisationKinds] })
  );

  r.get('/api/admin/users', { config: admin, schema: { response: { 200: Type.Object({ users: Type.Array(UserView) }) } } }, async () => ({
    users: accounts.store.users().map((u) => Accounts.view(u)),
  }));

  r.post(
    '/api/admin/users',
    {
      config: admin,
      schema: {
        body: Type.Object({ id: Type.Optional(Id), username: Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\w.@-]+$' }), displayName: Type.String({ minLength: 1, maxLength: 64 }), organisationId: Id, roles: Roles }, { additionalProperties: false }),
        response: { 201: Type.Object({ user: UserView, temporaryPassword: Type.String() }), 400: ErrorReply, 409: ErrorReply },
      },
    },
    async (req, reply) => {
      const made = await accounts.createUser(req.body, actorOf(req.principal));
      return reply.code(201).send({ user: made.user, temporaryPassword: made.temporaryPassword ?? '' });
    }
  );

  r.patch(
    '/api/admin/users/:id',
    {
      config: admin,
      schema: {
        params: IdParams,
        body: Type.Object({ displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), organisationId: Type.Optional(Id), roles: Type.Optional(Roles), disabled: Type.Optional(Type.Boolean()), locked: Type.Optional(Type.Boolean()) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: UserView, 400: ErrorReply, 404: ErrorReply, 409: ErrorReply },
      },
    },
    async (req) => accounts.updateUser(req.params.id, req.body, actorOf(req.principal))
  );

  r.post('/api/admin/users/:id/reset-password', { config: admin, schema: { params: IdParams, response: { 200: Type.Object({ temporaryPassword: Type.String() }), 404: ErrorReply } } }, async (req) => ({
    temporaryPassword: await accounts.resetPassword(req.params.id, actorOf(req.principal)),
  }));

  r.post('/api/admin/users/:id/logout-everywhere', { config: admin, schema: { params: IdParams, response: { 200: Type.Object({ sessions: Type.Integer() }), 404: ErrorReply } } }, async (req) => ({
    sessions: accounts.logoutEverywhere(req.params.id, actorOf(req.principal)),
  }));

  r.get('/api/admin/organisations', { config: admin, schema: { response: { 200: Type.Object({ organisations: Type.Array(Organisation) }) } } }, async () => ({
    organisations: accounts.store.organisations(),
  }));

  r.post('/api/admin/organisations', { config: admin, schema: { body: Organisation, response: { 201: Organisation, 400: ErrorReply, 409: ErrorReply } } }, async (req, reply) =>
    reply.code(201).send(accounts.addOrganisation(req.body, actorOf(req.principal)))
  );

  r.get('/api/admin/tokens', { config: admin, schema: { response: { 200: Type.Object({ tokens: Type.Array(TokenView) }) } } }, async () => ({
    tokens: accounts.store.tokens().map((t) => Accounts.tokenView(t)),
  }));

  r.post(
    '/api/admin/tokens',
    {
      config: admin,
      schema: {
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 128 }), scopes: Type.Array(Scope, { minItems: 1, maxItems: 8 }), organisationId: Type.Optional(Type.Union([Id, Type.Null()])), expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })) },
          { additionalProperties: false }
        ),
        response: { 201: Type.Object({ token: Type.String(), view: TokenView }), 400: ErrorReply },
      },
    },
    // The token is shown once, here; the server keeps only its hash.
    async (req, reply) => reply.code(201).send(accounts.createToken(req.body, adminOf(req)))
  );

  r.delete('/api/admin/tokens/:id', { config: admin, schema: { params: IdParams, response: { 204: Type.Null(), 404: ErrorReply } } }, async (req, reply) => {
    accounts.revokeToken(req.params.id, actorOf(req.principal));
    return reply.code(204).send(null);
  });
};
