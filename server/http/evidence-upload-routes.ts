// REST for room agents: the upload of an evidence-video segment as it closes.
//
//   PUT /api/rooms/:roomId/evidence/:bookingId/segments/:name?startedAt=&endedAt=&sha256=
//   Authorization: Agent <roomId>:<credential>      Content-Type: video/mp2t      body: the file
//
// Only the room's own agent, only for a booking of that room, within the
// booking's window plus the upload grace, never after its evidence was sealed
// (recordings/evidence-intake.ts decides, and audits each refusal). The body is
// streamed to disk while it is hashed; a hash that differs from the agent's is
// refused (422) and nothing is kept; otherwise the segment is renamed into
// <dataDir>/recordings/<bookingId>/evidence/ and added to the booking's hash
// chain (RecordingStore.addSegment, source 'evidence'), and only then answered
// (201). The same segment sent again (its answer was lost) is answered 200 from
// what is stored, so the agent may always retry. A segment stored after the
// booking's disc images were built makes them stale (audited; not burned).
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { allow } from '../access/authorization.js';
import { recordingDir, type RecordingStore } from '../../recordings/recording-store.js';
import type { EvidenceIntake } from '../../recordings/evidence-intake.js';

export interface EvidenceUploadDeps {
  dataDir: string;
  recordings: RecordingStore;
  /** Which uploads are taken (room, window, seal), and what a stored one does to built images. */
  intake: EvidenceIntake;
  /** Largest segment accepted, bytes. */
  maxSegmentBytes?: number;
}

const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() });
const Stored = Type.Object({ seq: Type.Integer(), chainHash: Type.String(), sha256: Type.String(), bytes: Type.Integer(), duplicate: Type.Boolean() });
/** `<run id>-<index>.ts`, the compositor's names, e.g. 20261201T211503Z-00001.ts */
const SEGMENT_NAME = '^[0-9]{8}T[0-9]{6}Z-[0-9]{5}\\.ts$';
const Iso = Type.String({ format: 'date-time', maxLength: 40 });

export const evidenceUploadRoutes = (deps: EvidenceUploadDeps): FastifyPluginAsync => async (app) => {
  const maxBytes = deps.maxSegmentBytes ?? 2 * 1024 ** 3;
  const inFlight = new Set<string>();
  // The body stays a stream (a segment is tens of MB): read by the handler, not buffered.
  app.addContentTypeParser('video/mp2t', (_req, payload, done) => done(null, payload));
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.put(
    '/api/rooms/:roomId/evidence/:bookingId/segments/:name',
    {
      config: { access: allow.agent() },
      bodyLimit: maxBytes,
      schema: {
        params: Type.Object({
          roomId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
          bookingId: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }),
          name: Type.String({ pattern: SEGMENT_NAME }),
        }),
        querystring: Type.Object({ startedAt: Iso, endedAt: Iso, sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }) }, { additionalProperties: false }),
        response: { 200: Stored, 201: Stored, 400: ErrorReply, 403: ErrorReply, 404: ErrorReply, 409: ErrorReply, 413: ErrorReply, 422: ErrorReply },
      },
    },
    async (req, reply) => {
      const { roomId, bookingId, name } = req.params;
      const q = req.query;
      const principal = req.principal;
      const body = req.body as Readable | undefined;
      const refuse = (code: 400 | 403 | 404 | 409 | 413 | 422, error: string, message: string) => {
        body?.resume(); // drain what the agent sends, then answer
        return reply.code(code).send({ error, message });
      };
      // The rule admits room agents; each only for its own room.
      if (principal?.kind !== 'agent' || principal.roomId !== roomId) return refuse(403, 'forbidden', 'a room agent uploads only for its own room');
      if (!body || typeof body.pipe !== 'function') return refuse(400, 'bad_request', 'the body must be the segment file (Content-Type: video/mp2t)');
      if (Date.parse(q.endedAt) < Date.parse(q.startedAt)) return refuse(400, 'bad_request', 'the segment ends before it starts');
      const admitted = deps.intake.admit(roomId, bookingId, name);
      if (!admitted.ok) return refuse(admitted.status, admitted.error, admitted.message);
      const recording = deps.recordings.recording(bookingId);

      const rel = `evidence/${name}`;
      const existing = deps.recordings.segments(bookingId, 'evidence').find((s) => s.path === rel);
      if (existing) {
        if (existing.sha256 !== q.sha256) return refuse(409, 'conflict', `segment ${name} is already stored with another SHA-256`);
        body.resume();
        return reply.code(200).send({ seq: existing.seq, chainHash: existing.chainHash, sha256: existing.sha256, bytes: existing.bytes, duplicate: true });
      }
      const key = `${bookingId}/${name}`;
      if (inFlight.has(key)) return refuse(409, 'conflict', `segment ${name} is being uploaded already`);
      inFlight.add(key);
      const dir = path.join(recordingDir(deps.dataDir, bookingId), 'evidence');
      const part = path.join(dir, `.${name}.part`);
      try {
        mkdirSync(dir, { recursive: true });
        const hash = createHash('sha256');
        let bytes = 0;
        const count = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            bytes += chunk.length;
            if (bytes > maxBytes) return cb(new Error('segment too large'));
            hash.update(chunk);
            cb(null, chunk);
          },
        });
        try {
          await pipeline(body, count, createWriteStream(part, { flags: 'wx' }));
        } catch (err) {
          rmSync(part, { force: true });
          if (bytes > maxBytes) return refuse(413, 'too_large', `a segment may have at most ${maxBytes} bytes`);
          req.log.warn({ err, bookingId, name }, 'evidence upload broke off');
          return refuse(400, 'bad_request', 'the upload broke off before its end');
        }
        const sha256 = hash.digest('hex');
        if (sha256 !== q.sha256) {
          rmSync(part, { force: true });
          req.log.warn({ bookingId, name, claimed: q.sha256, received: sha256 }, 'evidence segment hash mismatch');
          return refuse(422, 'hash_mismatch', `the received file's SHA-256 is ${sha256}, not ${q.sha256}: send it again`);
        }
        // A segment may come before the server's own recorder started the booking's recording.
        if (!recording) deps.recordings.started({ bookingId, roomId, actor: `agent:${roomId}` });
        renameSync(part, path.join(dir, name));
        const seg = deps.recordings.addSegment(
          { bookingId, source: 'evidence', track: 'evidence', partyId: null, path: rel, startedAt: q.startedAt, endedAt: q.endedAt, bytes, sha256, container: 'ts', codec: 'h264+aac' },
          `agent:${roomId}`
        );
        deps.intake.stored(roomId, bookingId, seg);
        return reply.code(201).send({ seq: seg.seq, chainHash: seg.chainHash, sha256, bytes, duplicate: false });
      } finally {
        inFlight.delete(key);
        rmSync(part, { force: true });
      }
    }
  );
};
