// Join links: a party's right to join the session of one room (and, with the
// schedule, one booking) in one role, within a time window. HMAC-signed, so
// the server keeps no table of links.
import { createHmac, timingSafeEqual } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { checker } from '../validation.js';
import { PartyRole } from '../signalling/protocol.js';

export const JoinClaims = Type.Object(
  {
    roomId: Type.String({ minLength: 1, maxLength: 64 }),
    role: PartyRole,
    bookingId: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()]),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** Valid from / until, epoch milliseconds. */
    nbf: Type.Integer(),
    exp: Type.Integer(),
  },
  { additionalProperties: false }
);
export type JoinClaims = Static<typeof JoinClaims>;

const claimsChecker = checker(JoinClaims);

export type TokenCheck = { ok: true; claims: JoinClaims } | { ok: false; reason: string };

export class JoinTokens {
  constructor(private readonly secret: string) {
    if (secret.length < 16) throw new Error('join secret too short');
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }

  issue(claims: JoinClaims): string {
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  verify(token: string, now = Date.now()): TokenCheck {
    const [body, sig, extra] = token.split('.');
    if (!body || !sig || extra !== undefined) return { ok: false, reason: 'malformed join link' };
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'join link signature invalid' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'malformed join link' };
    }
    const checked = claimsChecker.check(parsed);
    if (!checked.ok) return { ok: false, reason: `malformed join link: ${checked.message}` };
    if (now < checked.value.nbf) return { ok: false, reason: 'join link not valid yet' };
    if (now > checked.value.exp) return { ok: false, reason: 'join link expired' };
    return { ok: true, claims: checked.value };
  }
}
