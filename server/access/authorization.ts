/**
 * Authorization: who may call which REST route and which Socket.io event.
 *
 * HOW TO DECLARE A RULE (every route and every event must have one; a route or
 * event without one is refused at run time and fails test/access-registry.test.ts):
 *
 *   REST: put the rule in the route's `config.access`, next to its schema:
 *
 *     import { allow } from '../access/authorization.js';
 *     r.get('/api/recordings/:id', {
 *       config: { access: allow.roles(['evidence_clerk'], { scopes: ['evidence:read'] }) },
 *       schema: { ... },
 *     }, async (req) => service.recording(req.params.id, actorOf(req.principal)));
 *
 *     allow.roles([...roles], { scopes? })  people holding any of the roles; API tokens
 *                                           holding any of the scopes (none named: no token)
 *     allow.agent()                         a room agent with its room's credential
 *                                           (`req.principal.roomId` says which room)
 *     allow.signedIn()                      any signed-in person (their own profile, logout)
 *
 *   Writes (POST, PUT, PATCH, DELETE) by a signed-in person (cookie) must carry the
 *   CSRF token of their login session in `x-csrf-token` (pages get it from
 *   GET /api/auth/me); API tokens and agents send no cookie and need none.
 *   Machine clients: `Authorization: Bearer plt_…` (an API token). Room agents:
 *   `Authorization: Agent <roomId>:<credential>`.
 *     allow.public('why it is open')        anyone, unauthenticated; say why. Every public
 *                                           route is listed in the registry test: adding
 *                                           one means adding it there, on purpose.
 *
 *   Socket.io: add the event to `clientEventAccess` in server/signalling/protocol.ts
 *   beside its schema in `clientEventSchemas` (the compiler insists on both).
 *
 * WHERE IT IS ENFORCED: one Fastify onRequest hook (installAccessControl, below)
 * for every route, and the Socket.io event dispatcher (Connection.handle in
 * server/signalling/socket-server.ts) for every event. Both call `decide`. A
 * refusal is answered 401 (nobody authenticated) or 403 (authenticated, not
 * allowed) as `{ error, message }` and audited as `access.refused`.
 *
 * The rule is the coarse gate (role, scope, kind of client). What a principal
 * may do to one object (a prosecutor only their own bookings) is the service's
 * check, made with `req.principal`, which the hook sets on every request.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Role, Scope } from './roles.js';

export type { Role, Scope } from './roles.js';

/** Who is calling: the identity the enforcement point resolved for a request or socket. */
export type Principal =
  | {
      kind: 'user';
      userId: string;
      username: string;
      displayName: string;
      organisationId: string;
      roles: readonly Role[];
      /** The login session the cookie names (for logout and CSRF). */
      loginSessionId: string;
      /** Set by an administrator: until changed, only the account's own routes answer. */
      mustChangePassword: boolean;
    }
  | { kind: 'api-token'; tokenId: string; name: string; ownerId: string; scopes: readonly Scope[] }
  | { kind: 'agent'; roomId: string };

export type AccessRule =
  | { readonly kind: 'public'; readonly why: string }
  | { readonly kind: 'roles'; readonly roles: readonly Role[]; readonly scopes: readonly Scope[] }
  | { readonly kind: 'agent' }
  | { readonly kind: 'signed-in'; readonly beforePasswordChange: boolean };

export const allow = {
  public: (why: string): AccessRule => ({ kind: 'public', why }),
  roles: (roles: readonly Role[], options: { scopes?: readonly Scope[] } = {}): AccessRule => {
    if (roles.length === 0 && !options.scopes?.length) throw new Error('allow.roles needs at least one role or scope');
    return { kind: 'roles', roles, scopes: options.scopes ?? [] };
  },
  agent: (): AccessRule => ({ kind: 'agent' }),
  /** `beforePasswordChange`: also for someone who must still change an administrator-set password. */
  signedIn: (options: { beforePasswordChange?: boolean } = {}): AccessRule => ({ kind: 'signed-in', beforePasswordChange: options.beforePasswordChange ?? false }),
} as const;

/** The roles a principal acts in. */
export function rolesOf(p: Principal | null): readonly Role[] {
  if (!p) return [];
  return p.kind === 'user' ? p.roles : [];
}

/** How the audit trail and the schedule's history name a principal. */
export function actorOf(p: Principal | null | undefined): string {
  if (!p) return 'anonymous';
  switch (p.kind) {
    case 'user':
      return `user:${p.username}`;
    case 'api-token':
      return `token:${p.tokenId}`;
    case 'agent':
      return `agent:${p.roomId}`;
  }
}

export type Decision =
  | { ok: true }
  | { ok: false; status: 401 | 403; code: 'unauthorized' | 'forbidden' | 'password_change_required' | 'csrf'; message: string };

/** The one decision, for routes and events alike. No rule: refused. */
export function decide(rule: AccessRule | undefined, p: Principal | null): Decision {
  if (!rule) return { ok: false, status: 403, code: 'forbidden', message: 'no access rule is declared for this' };
  if (rule.kind === 'public') return { ok: true };
  if (!p) return { ok: false, status: 401, code: 'unauthorized', message: 'sign in first (or present an API token)' };
  if (p.kind === 'user' && p.mustChangePassword && !(rule.kind === 'signed-in' && rule.beforePasswordChange)) {
    return { ok: false, status: 403, code: 'password_change_required', message: 'change your password first' };
  }
  switch (rule.kind) {
    case 'agent':
      return p.kind === 'agent' ? { ok: true } : { ok: false, status: 403, code: 'forbidden', message: 'for room agents only' };
    case 'signed-in':
      return p.kind === 'user' ? { ok: true } : { ok: false, status: 403, code: 'forbidden', message: 'for signed-in people only' };
    case 'roles': {
      if (p.kind === 'api-token') {
        if (rule.scopes.some((s) => p.scopes.includes(s))) return { ok: true };
        return {
          ok: false,
          status: 403,
          code: 'forbidden',
          message: rule.scopes.length ? `this API token lacks the scope (${rule.scopes.join(' or ')})` : 'API tokens may not call this',
        };
      }
      const held = rolesOf(p);
      if (rule.roles.some((r) => held.includes(r))) return { ok: true };
      return { ok: false, status: 403, code: 'forbidden', message: `needs the role ${rule.roles.join(' or ') || '(none: API tokens only)'}` };
    }
  }
}

// ---------------------------------------------------------------------------
// Fastify: the rule lives in route config; one onRequest hook enforces it.

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route: see server/access/authorization.ts. */
    access?: AccessRule;
  }
  interface FastifyRequest {
    /** Set by the access-control hook before any handler runs; null: nobody authenticated. */
    principal: Principal | null;
  }
}

export interface RegisteredRoute {
  method: string;
  url: string;
  /** Read at check time: a scope's own onRoute hook may set it after registration. */
  readonly access: AccessRule | undefined;
}

export interface AccessControlOptions {
  /** Resolves who calls (cookie, API token, agent credential); null when nobody. May throw: answered 500. */
  authenticate(req: FastifyRequest): Promise<Principal | null> | Principal | null;
  /** Whether a cookie-authenticated write carries its login session's CSRF token. */
  csrfValid(req: FastifyRequest, principal: Extract<Principal, { kind: 'user' }>): boolean;
  /** Records a refusal (audit). Must not throw. */
  refused(req: FastifyRequest, principal: Principal | null, decision: Extract<Decision, { ok: false }>): void;
}

export interface AccessRegistry {
  /** Every route the server registered, with its rule. */
  routes(): RegisteredRoute[];
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Installs the one enforcement point on the root instance. Call before any
 * route is registered (buildHttp does), so every route is in the registry.
 */
export function installAccessControl(app: FastifyInstance, options: AccessControlOptions): AccessRegistry {
  const routes: Array<{ method: string; url: string; opts: RouteOptions }> = [];
  app.decorateRequest('principal', null);
  app.addHook('onRoute', (opts) => {
    const methods = Array.isArray(opts.method) ? opts.method : [opts.method];
    for (const method of methods) routes.push({ method: String(method), url: opts.url, opts });
  });
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    // Unknown paths go on to the 404 handler: nothing to protect there.
    if (req.is404) return;
    const rule = req.routeOptions.config.access;
    let principal: Principal | null;
    try {
      principal = await options.authenticate(req);
    } catch (err) {
      req.log.error({ err }, 'authentication failed');
      return reply.code(500).send({ error: 'internal', message: 'internal error' });
    }
    req.principal = principal;
    let decision = decide(rule, principal);
    if (decision.ok && principal?.kind === 'user' && rule?.kind !== 'public' && !safeMethods.has(req.method) && !options.csrfValid(req, principal)) {
      decision = { ok: false, status: 403, code: 'csrf', message: 'a write from a signed-in page needs its x-csrf-token (from GET /api/auth/me)' };
    }
    if (decision.ok) return;
    options.refused(req, principal, decision);
    return reply.code(decision.status).send({ error: decision.code, message: decision.message });
  });
  return {
    routes: () =>
      routes.map((r) => ({
        method: r.method,
        url: r.url,
        get access() {
          return r.opts.config?.access;
        },
      })),
  };
}

/** For a scope whose routes come from a plugin that takes no config (static files): gives them all `rule`. */
export function accessForPluginRoutes(scope: FastifyInstance, rule: AccessRule): void {
  scope.addHook('onRoute', (opts) => {
    opts.config = { ...(opts.config ?? {}), access: opts.config?.access ?? rule };
  });
}
