// The Fastify edge: plugins (OpenAPI, static pages) and each area's routes.
// Route schemas are TypeBox: one definition gives the type, the validation and
// the OpenAPI document (/api/openapi.json).
import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifyCookie from '@fastify/cookie';
import type { Logger } from '../logger.js';
import { repoRoot } from '../config.js';
import { DomainError } from '../errors.js';
import { AuditUnavailableError } from '../audit/audit-trail.js';
import { accessForPluginRoutes, allow, installAccessControl, type AccessControlOptions, type AccessRegistry } from '../access/authorization.js';

export const pagePaths = ['/', '/session', '/staff', '/evidence'];

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

export async function buildHttp(
  log: Logger,
  access: AccessControlOptions & { cookieSecret: string },
  plugins: FastifyPluginAsync[] = []
): Promise<{ app: FastifyInstance; registry: AccessRegistry }> {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    genReqId: (() => {
      let n = 0;
      return () => `req-${(++n).toString(36)}`;
    })(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    schemaErrorFormatter: (errors, dataVar) => new Error(describeValidation(errors, dataVar)),
  });
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
