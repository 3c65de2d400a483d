// The Fastify edge: plugins (OpenAPI, static pages) and each area's routes.
// Route schemas are TypeBox: one definition gives the type, the validation and
// the OpenAPI document (/api/openapi.json).
import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest, type FastifyHttpOptions, type RawServerDefault } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyCookie from '@fastify/cookie';
import type { Logger } from '../logger.js';
import { repoRoot } from '../config.js';
import { DomainError } from '../errors.js';
import { AuditUnavailableError } from '../audit/audit-trail.js';
import { accessForPluginRoutes, allow, installAccessControl, type AccessControlOptions, type AccessRegistry } from '../access/authorization.js';

export const pagePaths = ['/', '/session', '/staff', '/evidence', '/login', '/setup', '/admin', '/guest'];

interface ValidationIssue {
  instancePath: string;
  message?: string | undefined;
  params: Record<string, unknown>;
  keyword: string;
}

/** "body.requestedStart must be integer", "body.extra is not allowed", "body.caseNumber is required". */
export function describeValidation(errors: readonly ValidationIssue[], dataVar: string): string {
  const e = errors[0];
  if (!e) return `${dataVar} is invalid`;
  const path = [dataVar, ...e.instancePath.split('/').filter(Boolean)].join('.');
  if (e.keyword === 'additionalProperties') return `${path}.${String(e.params['additionalProperty'])} is not allowed`;
  if (e.keyword === 'required') return `${path}.${String(e.params['missingProperty'])} is required`;
  return `${path} ${e.message ?? 'is invalid'}`;
}

/** The edge's transport and abuse settings (config http and limits). */
export interface EdgeOptions {
  /** TLS: PEM key and certificate; none: plain HTTP (tests on 127.0.0.1). */
  https?: { key: string; cert: string } | null;
  trustProxy?: boolean | string;
  /** Largest body accepted (routes taking files set their own). */
  bodyLimit?: number;
  /** Requests per client address per minute; 0: no limit. */
  rateLimitPerMinute?: number;
  /** Called for each rate-limited request (audit). */
  onRateLimited?: (req: FastifyRequest) => void;
}

/** The content security policy the Vue app runs under: its own scripts only, no framing. */
export const contentSecurityPolicy = {
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    // Element Plus and Vue's style bindings set inline styles.
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:', 'blob:'],
    mediaSrc: ["'self'", 'blob:'],
    fontSrc: ["'self'", 'data:'],
    connectSrc: ["'self'", 'ws:', 'wss:'],
    workerSrc: ["'self'", 'blob:'],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
};

/**
 * For the one kind of answer our own pages show in a frame (the printable disc
 * label on the clerk page): framing by this origin only, everything else of the
 * policy as above.
 */
export function allowSameOriginFraming(reply: FastifyReply): void {
  const directives: Record<string, string[]> = { ...contentSecurityPolicy.directives, frameAncestors: ["'self'"] };
  const policy = Object.entries(directives)
    .map(([name, values]) => `${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${values.join(' ')}`)
    .join(';');
  reply.header('content-security-policy', policy);
  reply.header('x-frame-options', 'SAMEORIGIN');
}

export async function buildHttp(
  log: Logger,
  access: AccessControlOptions & { cookieSecret: string },
  plugins: FastifyPluginAsync[] = [],
  edge: EdgeOptions = {}
): Promise<{ app: FastifyInstance; registry: AccessRegistry }> {
  const options = {
    ...(edge.https ? { https: { key: edge.https.key, cert: edge.https.cert } } : {}),
    trustProxy: edge.trustProxy ?? false,
    bodyLimit: edge.bodyLimit ?? 256 * 1024,
    loggerInstance: log as FastifyBaseLogger,

    genReqId: (() => {
      let n = 0;
      return () => `req-${(++n).toString(36)}`;
    })(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    schemaErrorFormatter: (errors: readonly ValidationIssue[], dataVar: string) => new Error(describeValidation(errors, dataVar)),
  };
  // With TLS Fastify owns an https server; Socket.io attaches to either the same way.
  const app = Fastify(options as FastifyHttpOptions<RawServerDefault>) as unknown as FastifyInstance;
  // Secure headers on every answer: CSP, no framing, no sniffing, HSTS over TLS.
  await app.register(fastifyHelmet, {
    contentSecurityPolicy,
    hsts: edge.https ? { maxAge: 31536000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  });
  if (edge.rateLimitPerMinute) {
    await app.register(fastifyRateLimit, {
      global: true,
      max: edge.rateLimitPerMinute,
      timeWindow: 60_000,
      errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, error: 'rate_limited', message: `too many requests: at most ${ctx.max} a minute; try again in ${Math.ceil(ctx.ttl / 1000)} s` }),
      onExceeded: (req) => edge.onRateLimited?.(req),
    });
  }
  // Every route declares who may call it; this one hook enforces it (see server/access/authorization.ts).
  // Cookies are parsed before the access hook runs (hooks run in the order added).
  await app.register(fastifyCookie, { secret: access.cookieSecret });
  const registry = installAccessControl(app, access);
  // Bad input gets 400 with a message naming the field.
  // One error handler for every area: domain refusals with their own code,
  // Fastify's client errors (bad body, wrong content type) as bad_request.
  app.setErrorHandler((err: { validation?: unknown; statusCode?: number; message: string }, req, reply) => {
    if (err instanceof DomainError) return reply.code(err.statusCode).send({ error: err.code, message: err.message });
    // A security-relevant action whose audit entry cannot be written is refused, and says why.
    if (err instanceof AuditUnavailableError) {
      req.log.error({ err }, 'refused: the audit trail cannot be written');
      return reply.code(503).send({ error: 'unavailable', message: err.message });
    }
    if (err.validation) return reply.code(400).send({ error: 'bad_request', message: err.message });
    if (err.statusCode === 429) return reply.code(429).send({ error: 'rate_limited', message: err.message });
    if (err.statusCode === 413) return reply.code(413).send({ error: 'too_large', message: err.message });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: 'bad_request', message: err.message });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
  await app.register(fastifySwagger, {
    openapi: { info: { title: 'Plea room controller', version: '0.1.0' } },
  });
  app.get('/api/openapi.json', { config: { access: allow.public('the API description') }, schema: { hide: true } }, async () => app.swagger());
  for (const plugin of plugins) await app.register(plugin);

  const dist = path.join(repoRoot, 'web', 'dist');
  const page = { access: allow.public('the web front end: pages sign in through the API') };
  if (existsSync(path.join(dist, 'index.html'))) {
    await app.register(async (scope) => {
      accessForPluginRoutes(scope, page.access);
      await scope.register(fastifyStatic, { root: dist, prefix: '/', index: false, wildcard: true });
      for (const p of pagePaths) scope.get(p, { config: page, schema: { hide: true } }, (_req, reply) => reply.sendFile('index.html'));
    });
  } else {
    for (const p of pagePaths) {
      app.get(p, { config: page, schema: { hide: true } }, (_req, reply) =>
        reply.code(503).type('text/plain; charset=utf-8').send('The web front end is not built: run "npm run build:web" (npm start does it).')
      );
    }
  }
  return { app, registry };
}
