// Room agents' credentials: one per room, bound to that room, rotatable and
// revocable while the server runs (the administrator's page calls the REST
// routes in http/agent-credential-routes.ts). Kept in secrets.json (owner-only);
// every change is audited first: no entry, no change.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AuditTrail } from '../audit/audit-trail.js';
import { restrictToOwner, type Secrets } from './secrets.js';

export class AgentCredentials {
  constructor(private readonly secrets: Secrets, private readonly file: string, private readonly audit: AuditTrail, private readonly rooms: ReadonlySet<string>) {}

  /** The room's credential; undefined for an unknown room or a revoked credential. */
  get(roomId: string): string | undefined {
    if (!Object.hasOwn(this.secrets.agentCredentials, roomId)) return undefined;
    const c = this.secrets.agentCredentials[roomId];
    return c ? c : undefined;
  }

  private set(roomId: string, value: string): void {
    Object.defineProperty(this.secrets.agentCredentials, roomId, { value, enumerable: true, writable: true, configurable: true });
    writeFileSync(this.file, JSON.stringify(this.secrets, null, 2), { mode: 0o600 });
    restrictToOwner(this.file);
  }

  private known(roomId: string): void {
    if (!this.rooms.has(roomId)) throw new Error(`no room ${roomId}`);
  }

  /** A new credential for the room (shown once); the old one stops working at once. */
  rotate(roomId: string, actor: string): string {
    this.known(roomId);
    const credential = randomBytes(24).toString('base64url');
    this.audit.record({ actor, action: 'agent.credential_rotated', subject: `room:${roomId}`, detail: {} });
    this.set(roomId, credential);
    return credential;
  }

  /** The room has no working credential until the next rotation. */
  revoke(roomId: string, actor: string): void {
    this.known(roomId);
    this.audit.record({ actor, action: 'agent.credential_revoked', subject: `room:${roomId}`, detail: {} });
    this.set(roomId, '');
  }
}
