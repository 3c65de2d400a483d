// A room agent calling REST (evidence uploads): `Authorization: Agent <roomId>:<credential>`,
// checked against the room's agent credential in constant time.
import { timingSafeEqual } from 'node:crypto';

export function agentFromAuthorization(header: string | undefined, credentialOf: (roomId: string) => string | undefined): { roomId: string } | null {
  const m = /^Agent\s+([A-Za-z0-9_-]{1,64}):(\S{16,256})$/.exec(header ?? '');
  if (!m) return null;
  const expected = credentialOf(m[1]!);
  if (!expected) return null;
  const a = Buffer.from(expected);
  const b = Buffer.from(m[2]!);
  return a.length === b.length && timingSafeEqual(a, b) ? { roomId: m[1]! } : null;
}
