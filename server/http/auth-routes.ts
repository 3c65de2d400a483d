// REST for signing in and out: login (cookie), the signed-in person's own
// account (who am I, CSRF token, password), logout and logout everywhere, and
// the one-time set-up of the first administrator.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { allow, type Principal } from '../access/authorization.js';
import type { Accounts } from '../access/accounts.js';
import { Role } from '../access/roles.js';
import { DomainError } from '../errors.js';

export const sessionCookie = 'plea_session';

const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() });
export const UserView = Type.Object({
  id: Type.String(),
  username: Type.String(),
  displayName: Type.String(),
  organisationId: Type.String(),
  roles: Type.Array(Role),
  mustChangePassword: Type.Boolean(),
  disabled: Type.Boolean(),
  locked: Type.Boolean(),
});
const Username = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\w.@-]+$' });
const Password = Type.String({ minLength: 1, maxLength: 256 });
const SignedIn = Type.Object({ user: UserView, csrfToken: Type.String() });

type User = Extract<Principal, { kind: 'user' }>;
function userOf(req: FastifyRequest): User {
  const p = req.principal;
  if (p?.kind !== 'user') throw new DomainError(401, 'unauthorized', 'sign in first');
  return p;
}

export function readSessionCookie(req: FastifyRequest): string | null {
  const raw = req.cookies[sessionCookie];
  if (!raw) return null;
  const unsigned = req.unsignCookie(raw);
  return unsigned.valid && unsigned.value ? unsigned.value : null;
}

export const authRoutes = (accounts: Accounts): FastifyPluginAsync => async (app) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const clear = (reply: FastifyReply) => reply.clearCookie(sessionCookie, { path: '/' });

  r.post(
    '/api/auth/login',
    {
      config: { access: allow.public('signing in: throttled per address, accounts lock after repeated failures') },
      schema: { body: Type.Object({ username: Username, password: Password }, { additionalProperties: false }), response: { 200: SignedIn, 400: ErrorReply, 401: ErrorReply, 429: ErrorReply } },
    },
    async (req, reply) => {
      const out = await accounts.login(req.body.username, req.body.password, { remoteAddress: req.ip, userAgent: req.headers['user-agent'] ?? '' });
      if (!out.ok) return reply.code(out.status).send({ error: out.code, message: out.message });
      reply.setCookie(sessionCookie, out.cookieValue, { signed: true, httpOnly: true, sameSite: 'strict', secure: 'auto', path: '/', expires: out.expiresAt });
      const principal = accounts.principalForSession(out.cookieValue) as User;
      return { user: out.user, csrfToken: accounts.csrfToken(principal) };
    }
  );

  r.get('/api/auth/me', { config: { access: allow.signedIn({ beforePasswordChange: true }) }, schema: { response: { 200: SignedIn, 401: ErrorReply } } }, async (req) => {
    const p = userOf(req);
    const user = accounts.store.user(p.userId);
    if (!user) throw new DomainError(401, 'unauthorized', 'sign in first');
    return { user: { id: user.id, username: user.username, displayName: user.displayName, organisationId: user.organisationId, roles: user.roles, mustChangePassword: user.mustChangePassword, disabled: user.disabled, locked: false }, csrfToken: accounts.csrfToken(p) };
  });

  r.post(
    '/api/auth/password',
    {
      config: { access: allow.signedIn({ beforePasswordChange: true }) },
      schema: { body: Type.Object({ currentPassword: Password, newPassword: Password }, { additionalProperties: false }), response: { 204: Type.Null(), 400: ErrorReply, 403: ErrorReply } },
    },
    async (req, reply) => {
      await accounts.changePassword(userOf(req), req.body.currentPassword, req.body.newPassword);
      return reply.code(204).send(null);
    }
  );

  r.post('/api/auth/logout', { config: { access: allow.signedIn({ beforePasswordChange: true }) }, schema: { response: { 204: Type.Null() } } }, async (req, reply) => {
    accounts.logout(userOf(req));
    clear(reply);
    return reply.code(204).send(null);
  });

  r.post('/api/auth/logout-everywhere', { config: { access: allow.signedIn({ beforePasswordChange: true }) }, schema: { response: { 200: Type.Object({ sessions: Type.Integer() }) } } }, async (req, reply) => {
    const p = userOf(req);
    const sessions = accounts.logoutEverywhere(p.userId, `user:${p.username}`);
    clear(reply);
    return { sessions };
  });

  r.post(
    '/api/auth/setup',
    {
      config: { access: allow.public('the one-time set-up link of the first administrator: its secret is the authorization') },
      schema: {
        body: Type.Object({ setupToken: Type.String({ minLength: 16, maxLength: 128 }), username: Username, displayName: Type.String({ minLength: 1, maxLength: 64 }), password: Password }, { additionalProperties: false }),
        response: { 201: UserView, 400: ErrorReply, 403: ErrorReply },
      },
    },
    async (req, reply) => reply.code(201).send(await accounts.completeSetup(req.body.setupToken, req.body, req.ip))
  );
};
