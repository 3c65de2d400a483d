// REST for departments' heads and their allowances: an administrator appoints
// or removes a department's head; the head allows a prosecutor of the
// department to join its other prosecutors' bookings, and revokes it (as may an
// administrator); a prosecutor sees their own allowances. Who may do what to
// which department is the service's check (server/access/department-allowances.ts).
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { actorOf, allow, type Principal } from '../access/authorization.js';
import type { DepartmentAllowances } from '../access/department-allowances.js';
import { DomainError } from '../errors.js';

const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() });
const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\w.@-]+$' });
const Head = Type.Object({ departmentId: Type.String(), userId: Type.String(), appointedAt: Type.String(), appointedBy: Type.String() });
const Allowance = Type.Object({
  id: Type.String(), departmentId: Type.String(), granteeId: Type.String(), grantedBy: Type.String(), grantedAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]), note: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]), revokedBy: Type.Union([Type.String(), Type.Null()]), inForce: Type.Boolean(),
});

const Member = Type.Object({ id: Type.String(), displayName: Type.String() });
const Department = Type.Object({
  id: Type.String(), name: Type.String(), nameEn: Type.String(), parentId: Type.Union([Type.String(), Type.Null()]),
  head: Type.Union([Type.Object({ userId: Type.String(), displayName: Type.String() }), Type.Null()]), prosecutors: Type.Array(Member),
});

function personOf(req: FastifyRequest): Extract<Principal, { kind: 'user' }> {
  const p = req.principal;
  if (p?.kind !== 'user') throw new DomainError(403, 'forbidden', 'for signed-in people only');
  return p;
}

export const departmentRoutes = (allowances: DepartmentAllowances): FastifyPluginAsync => async (app) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = { access: allow.roles(['administrator']) };

  r.get('/api/admin/departments', { config: admin, schema: { description: 'Every department with its head and its prosecutors', response: { 200: Type.Object({ departments: Type.Array(Department) }) } } }, async () => ({
    departments: allowances.departments(),
  }));

  r.get('/api/admin/departments/:id/head', { config: admin, schema: { params: Type.Object({ id: Id }), response: { 200: Type.Object({ head: Type.Union([Head, Type.Null()]) }) } } }, async (req) => ({
    head: allowances.head(req.params.id),
  }));

  r.put(
    '/api/admin/departments/:id/head',
    {
      config: admin,
      schema: {
        description: 'Appoints a prosecutor of the department its head; allowances the previous head granted lapse',
        params: Type.Object({ id: Id }),
        body: Type.Object({ userId: Id }, { additionalProperties: false }),
        response: { 200: Head, 400: ErrorReply, 404: ErrorReply },
      },
    },
    async (req) => allowances.appointHead(req.params.id, req.body.userId, actorOf(req.principal))
  );

  r.delete('/api/admin/departments/:id/head', { config: admin, schema: { params: Type.Object({ id: Id }), response: { 204: Type.Null(), 400: ErrorReply, 404: ErrorReply } } }, async (req, reply) => {
    allowances.removeHead(req.params.id, actorOf(req.principal));
    return reply.code(204).send(null);
  });

  r.get(
    '/api/department/allowances',
    {
      config: { access: allow.roles(['prosecutor']) },
      schema: {
        description: "The head sees the department's allowances; any other prosecutor their own",
        response: {
          200: Type.Object({
            departmentId: Type.Union([Type.String(), Type.Null()]),
            head: Type.Boolean(),
            members: Type.Array(Member),
            allowances: Type.Array(Type.Intersect([Allowance, Type.Object({ granteeName: Type.String() })])),
          }),
        },
      },
    },
    async (req) => allowances.listFor(personOf(req))
  );

  r.post(
    '/api/department/allowances',
    {
      config: { access: allow.roles(['prosecutor']) },
      schema: {
        description: "The department's head allows one of its prosecutors to join the bookings of its other prosecutors",
        body: Type.Object(
          { granteeId: Id, expiresAt: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])), note: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])) },
          { additionalProperties: false }
        ),
        response: { 201: Allowance, 400: ErrorReply, 403: ErrorReply, 404: ErrorReply },
      },
    },
    async (req, reply) => reply.code(201).send(allowances.grant(personOf(req), req.body))
  );

  r.delete(
    '/api/department/allowances/:id',
    { config: { access: allow.roles(['prosecutor', 'administrator']) }, schema: { params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }), response: { 200: Allowance, 403: ErrorReply, 404: ErrorReply } } },
    async (req) => allowances.revoke(personOf(req), req.params.id)
  );
};
