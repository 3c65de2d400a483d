// The open server-sent event streams of evidence jobs. A stream lives longer
// than the request that opened it, so its caller's right is checked again:
// at once when the person changes (signed out, logged out everywhere,
// disabled, roles changed: Accounts.onPersonChanged), and before every event
// and heartbeat (expired, idle, token revoked). A caller holds at most a few
// streams at once.
import type { FastifyRequest } from 'fastify';
import { decide, type AccessRule, type Principal } from '../access/authorization.js';

export interface JobStream {
  readonly principal: Principal;
  readonly req: FastifyRequest;
  readonly rule: AccessRule;
  close(why: 'signed_out' | 'ended'): void;
}

/** The caller as of now: null once their sign-in or token has ended. */
export type CurrentPrincipal = (was: Principal, req: FastifyRequest) => Principal | null;

export class JobStreams {
  private readonly open = new Map<string, Set<JobStream>>();

  constructor(
    private readonly current: CurrentPrincipal,
    /** Told (and audits) when a caller over its limit is refused a stream. */
    private readonly refused: (p: Principal, why: string) => void,
    readonly perCaller = 4
  ) {}

  static keyOf(p: Principal): string {
    switch (p.kind) {
      case 'user':
        return `user:${p.userId}`;
      case 'api-token':
        return `token:${p.tokenId}`;
      case 'agent':
        return `agent:${p.roomId}`;
    }
  }

  /** Registers a stream; false when its caller holds `perCaller` already. */
  add(s: JobStream): boolean {
    const key = JobStreams.keyOf(s.principal);
    let set = this.open.get(key);
    if (!set) {
      set = new Set();
      this.open.set(key, set);
    }
    if (set.size >= this.perCaller) {
      this.refused(s.principal, `already ${set.size} progress streams open`);
      return false;
    }
    set.add(s);
    return true;
  }

  remove(s: JobStream): void {
    const key = JobStreams.keyOf(s.principal);
    const set = this.open.get(key);
    set?.delete(s);
    if (set && set.size === 0) this.open.delete(key);
  }

  /** Whether the stream's caller may still read it; closes it when not. */
  stillAllowed(s: JobStream): boolean {
    const now = this.current(s.principal, s.req);
    if (now && JobStreams.keyOf(now) === JobStreams.keyOf(s.principal) && decide(s.rule, now).ok) return true;
    s.close('signed_out');
    return false;
  }

  /** A person changed: re-checks their streams now. */
  recheckPerson(userId: string): void {
    for (const s of [...(this.open.get(`user:${userId}`) ?? [])]) this.stillAllowed(s);
  }

  get size(): number {
    let n = 0;
    for (const set of this.open.values()) n += set.size;
    return n;
  }
}
