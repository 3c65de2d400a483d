// REST for the evidence clerk: finished bookings with their recording and disc
// state, disc builds, verification and burning as jobs with progress (pushed
// as server-sent events by GET /api/evidence/jobs/:jobId/events, or polled at
// GET /api/evidence/jobs/:jobId), sealing and handing over, the custody log, a
// printable disc-case label and the evidence video for preview (HTTP ranges).
// Every route declares its access rule; the one hook in authorization.ts enforces it.
import { createReadStream, statSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { actorOf, allow } from '../access/authorization.js';
import { ErrorReply } from '../schedule/schedule-api.js';
import type { EvidenceJob, EvidenceService } from '../../recordings/disc/evidence-service.js';
import { DomainError } from '../errors.js';
import { allowSameOriginFraming } from './app.js';
import { JobStreams, type JobStream } from './job-streams.js';
import { Copy, Custody, CustodyEvent, Drive, EvidenceList, Job, Summary } from '../../recordings/disc/evidence-api.js';

const read = { access: allow.roles(['evidence_clerk', 'auditor'], { scopes: ['evidence:read'] }) };
const write = { access: allow.roles(['evidence_clerk']) };

const BookingParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }) });
const DiscParams = Type.Object({ id: BookingParams.properties.id, discNo: Type.Integer({ minimum: 1, maximum: 999 }) });
const Name = Type.String({ minLength: 1, maxLength: 128 });

const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply, 409: ErrorReply };

export const evidenceRoutes = (service: EvidenceService, streams: JobStreams): FastifyPluginAsync => async (app) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/api/evidence/bookings', {
    config: read,
    schema: { description: 'Finished and live recordings, newest first, with recording and disc state, and the drives', response: { 200: EvidenceList, ...errors } },
  }, async () => ({ bookings: service.list(), drives: service.drives(), medium: service.config.medium, keyFingerprint: service.key.fingerprint }));

  r.get('/api/evidence/bookings/:id', {
    config: read,
    schema: { params: BookingParams, response: { 200: Type.Object({ booking: Summary, jobs: Type.Array(Job) }), ...errors } },
  }, async (req) => ({ booking: service.summary(req.params.id), jobs: service.jobsOf(req.params.id) }));

  r.post('/api/evidence/bookings/:id/build', {
    config: write,
    schema: {
      description: 'Builds the disc set (note, signed manifest, images); answers the job at once: poll /api/evidence/jobs/:jobId for progress',
      params: BookingParams, body: Type.Object({ medium: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,32}$' })) }, { additionalProperties: false }),
      response: { 202: Job, ...errors },
    },
  }, async (req, reply) => reply.code(202).send(service.build(req.params.id, actorOf(req.principal), req.body.medium ? { medium: req.body.medium } : {})));

  r.get('/api/evidence/jobs/:jobId', {
    config: read,
    schema: { params: Type.Object({ jobId: Type.String({ format: 'uuid' }) }), response: { 200: Job, ...errors } },
  }, async (req) => {
    const job = service.job(req.params.jobId);
    if (!job) throw new DomainError(404, 'not_found', `no job ${req.params.jobId}`);
    return job;
  });

  // Pushed progress: one `data:` event per change of the job (the service's own progress events, at most 5 a second
  // within a step), the first at once, the stream ending after the job's end.
  r.get('/api/evidence/jobs/:jobId/events', {
    config: read,
    schema: {
      description: 'The job\'s progress as server-sent events (text/event-stream): each event\'s data is the job as GET /api/evidence/jobs/:jobId answers it; the stream ends when the job has ended',
      params: Type.Object({ jobId: Type.String({ format: 'uuid' }) }), response: { ...errors, 429: ErrorReply },
    },
  }, async (req, reply) => {
    const job = service.job(req.params.jobId);
    if (!job) throw new DomainError(404, 'not_found', `no job ${req.params.jobId}`);
    const principal = req.principal;
    if (!principal) throw new DomainError(401, 'unauthorized', 'sign in first');
    const ended = (j: EvidenceJob) => j.state === 'done' || j.state === 'failed';
    let closed = false;
    let beat: NodeJS.Timeout | undefined;
    const stream: JobStream = {
      principal,
      req,
      rule: read.access,
      close: (why) => {
        if (closed) return;
        closed = true;
        service.off('job', onJob);
        if (beat) clearInterval(beat);
        streams.remove(stream);
        if (why === 'signed_out') res.write('event: signed-out\ndata: {}\n\n');
        res.end();
      },
    };
    if (!streams.add(stream)) throw new DomainError(429, 'too_many_streams', `at most ${streams.perCaller} progress streams at once: close one first`);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
    const send = (j: EvidenceJob) => {
      if (closed || !streams.stillAllowed(stream)) return;
      res.write(`data: ${JSON.stringify(j)}\n\n`);
      if (ended(j)) stream.close('ended');
    };
    const onJob = (j: EvidenceJob) => { if (j.id === job.id) send(j); };
    // A comment line now and then keeps proxies from closing a quiet stream; the caller's right is checked each time.
    beat = setInterval(() => { if (!closed && streams.stillAllowed(stream)) res.write(': keep-alive\n\n'); }, 15_000);
    beat.unref();
    service.on('job', onJob);
    res.on('close', () => stream.close('ended')); // the clerk's page went away (or the stream ended)
    send(job);
  });

  r.post('/api/evidence/bookings/:id/discs/:discNo/verify', {
    config: write,
    schema: { description: 'Verifies the disc image against its signed manifest, file by file', params: DiscParams, response: { 202: Job, ...errors } },
  }, async (req, reply) => reply.code(202).send(service.verify(req.params.id, req.params.discNo, actorOf(req.principal))));

  r.post('/api/evidence/bookings/:id/discs/:discNo/burn', {
    config: write,
    schema: {
      description: 'Burns the disc as master or working copy on a configured drive, reads it back and verifies it; 409 no_drive when no drive is attached',
      params: DiscParams, body: Type.Object({ copy: Copy, drive: Type.String({ pattern: '^[a-z0-9-]{1,32}$' }) }, { additionalProperties: false }),
      response: { 202: Job, ...errors },
    },
  }, async (req, reply) => reply.code(202).send(service.burn(req.params.id, { discNo: req.params.discNo, copy: req.body.copy, drive: req.body.drive }, actorOf(req.principal))));

  r.post('/api/evidence/bookings/:id/discs/:discNo/seal', {
    config: write,
    schema: { params: DiscParams, body: Type.Object({ witness: Name }, { additionalProperties: false }), response: { 201: CustodyEvent, ...errors } },
  }, async (req, reply) => reply.code(201).send(service.seal(req.params.id, { discNo: req.params.discNo, witness: req.body.witness }, actorOf(req.principal))));

  r.post('/api/evidence/bookings/:id/discs/:discNo/hand-over', {
    config: write,
    schema: {
      params: DiscParams, body: Type.Object({ copy: Copy, to: Name, note: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
      response: { 201: CustodyEvent, ...errors },
    },
  }, async (req, reply) =>
    reply.code(201).send(service.handOver(req.params.id, { discNo: req.params.discNo, copy: req.body.copy, to: req.body.to, ...(req.body.note ? { note: req.body.note } : {}) }, actorOf(req.principal)))
  );

  r.get('/api/evidence/bookings/:id/custody', {
    config: read,
    schema: { description: 'The booking’s custody events, and whether the whole custody log checks out against the audit trail', params: BookingParams, response: { 200: Custody, ...errors } },
  }, async (req) => service.custodyOf(req.params.id));

  r.get('/api/evidence/bookings/:id/discs/:discNo/label', {
    config: read,
    schema: { description: 'Printable label for the disc case (HTML)', params: DiscParams, querystring: Type.Object({ copy: Type.Optional(Copy) }), response: { 200: Type.String(), ...errors } },
  }, async (req, reply) => {
    const html = service.label(req.params.id, req.params.discNo, req.query.copy ?? 'master');
    // The clerk page shows the label in a frame to print it.
    allowSameOriginFraming(reply);
    return reply.type('text/html; charset=utf-8').send(html);
  });

  r.get('/api/evidence/bookings/:id/evidence-video', {
    config: read,
    schema: { description: 'The joined evidence video (MP4) for preview; honours Range', params: BookingParams, headers: Type.Object({ range: Type.Optional(Type.String({ maxLength: 100 })) }) },
  }, async (req, reply) => {
    const file = service.evidenceVideo(req.params.id);
    if (!file) throw new DomainError(404, 'not_found', `booking ${req.params.id} has no joined evidence video yet: build its disc set`);
    const size = statSync(file).size;
    reply.header('accept-ranges', 'bytes').type('video/mp4');
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (m && (m[1] || m[2])) {
      const start = m[1] ? Number(m[1]) : Math.max(0, size - Number(m[2]));
      const end = m[1] && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      if (start >= size || start > end) return reply.code(416).header('content-range', `bytes */${size}`).send();
      reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`).header('content-length', end - start + 1);
      return reply.send(createReadStream(file, { start, end }));
    }
    reply.header('content-length', size);
    return reply.send(createReadStream(file));
  });

  r.get('/api/evidence/drives', {
    config: read,
    schema: { description: 'Configured burner drives and whether each is attached', response: { 200: Type.Object({ drives: Type.Array(Drive) }), ...errors } },
  }, async () => ({ drives: service.drives() }));
};
