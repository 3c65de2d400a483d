// The shapes of the evidence clerk's REST replies (server/http/evidence-routes.ts):
// at once the routes' validation and serialization and the web's types
// (web/src/evidence/evidence-client.ts derives its types from these). No
// imports but TypeBox, so the web can import them.
import Type from 'typebox';

export const Copy = Type.Union([Type.Literal('master'), Type.Literal('working')]);

export const EvidenceState = Type.Union(
  [Type.Literal('recording'), Type.Literal('complete'), Type.Literal('with_gaps'), Type.Literal('rendering'), Type.Literal('ready'), Type.Literal('burned'), Type.Literal('sealed')],
  { description: 'recording → complete | with_gaps (the recording) → rendering (disc set being built) → ready (images built) → burned (master and working copy burned and verified) → sealed (master sealed)' }
);
export const DiscImage = Type.Object({
  bookingId: Type.String(), discNo: Type.Integer(), discCount: Type.Integer(), medium: Type.String(), path: Type.String(),
  bytes: Type.Integer(), sha256: Type.String(), manifestSha256: Type.String(), builtAt: Type.String(),
});
export const Summary = Type.Object({
  bookingId: Type.String(), caseNumber: Type.Union([Type.String(), Type.Null()]), roomId: Type.String(), startedAt: Type.String(),
  endedAt: Type.Union([Type.String(), Type.Null()]), recordingState: Type.Union([Type.Literal('recording'), Type.Literal('complete'), Type.Literal('with_gaps')]),
  state: EvidenceState, gaps: Type.Integer(), interruptions: Type.Integer(), bytes: Type.Integer(), discs: Type.Array(DiscImage),
});
export const Job = Type.Object({
  id: Type.String(), kind: Type.Union([Type.Literal('build'), Type.Literal('burn'), Type.Literal('verify')]), bookingId: Type.String(),
  state: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
  step: Type.String(), fraction: Type.Number({ minimum: 0, maximum: 1 }), error: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.String(), finishedAt: Type.Union([Type.String(), Type.Null()]), result: Type.Unknown(),
});
export const Drive = Type.Object({ name: Type.String(), device: Type.String(), attached: Type.Boolean(), problem: Type.Union([Type.String(), Type.Null()]) });
export const CustodyEvent = Type.Object({
  seq: Type.Integer(), bookingId: Type.String(),
  kind: Type.Union([Type.Literal('image_built'), Type.Literal('burned'), Type.Literal('verified'), Type.Literal('verify_failed'), Type.Literal('sealed'), Type.Literal('handed_over')]),
  discNo: Type.Union([Type.Integer(), Type.Null()]), copy: Type.Union([Copy, Type.Null()]), imageSha256: Type.Union([Type.String(), Type.Null()]),
  actor: Type.String(), handedTo: Type.Union([Type.String(), Type.Null()]), at: Type.String(), detail: Type.Record(Type.String(), Type.Unknown()),
  prevHash: Type.String(), hash: Type.String(),
});
export const Custody = Type.Object({ events: Type.Array(CustodyEvent), intact: Type.Boolean(), problems: Type.Array(Type.String()) });
export const EvidenceList = Type.Object({ bookings: Type.Array(Summary), drives: Type.Array(Drive), medium: Type.String(), keyFingerprint: Type.String() });
