// REST for the clerk page beside the evidence routes: which actions are open now
// for one booking's evidence (recordings/disc/clerk-actions.ts decides), so the
// page asks instead of copying the rules.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { allow } from '../access/authorization.js';
import { ErrorReply } from '../schedule/schedule-api.js';
import { DomainError } from '../errors.js';
import type { EvidenceService } from '../../recordings/disc/evidence-service.js';
import { EvidenceActions } from '../../recordings/disc/clerk-actions.js';

const read = { access: allow.roles(['evidence_clerk', 'auditor'], { scopes: ['evidence:read'] }) };
const BookingParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }) });

export const clerkRoutes = (evidence: EvidenceService): FastifyPluginAsync => async (app) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/api/evidence/bookings/:id/actions', {
    config: read,
    schema: {
      description: 'What the evidence clerk may do now with this booking’s evidence (build; per disc verify, burn master / working copy, seal, hand over, label), each with the reason when not',
      params: BookingParams,
      response: { 200: EvidenceActions, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply },
    },
  }, async (req) => evidence.actions(req.params.id));
};
