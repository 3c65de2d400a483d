// Room agents' credentials: one per room, bound to that room, rotatable and
// revocable while the server runs, optionally bound to the room PC's address
// (the administrator's page calls the REST routes in http/agent-credential-routes.ts). Kept in secrets.json (owner-only);
// every change is audited first: no entry, no change.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AuditTrail } from '../audit/audit-trail.js';
import { restrictToOwner, type Secrets } from './secrets.js';
import { addressMatcher, isAddressOrRange } from './agent-address.js';

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
    this.save();
  }

  private save(): void {
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

  /** The addresses the room's agent may connect from; empty: not bound. */
  addresses(roomId: string): readonly string[] {
    if (!Object.hasOwn(this.secrets.agentAddresses, roomId)) return [];
    return this.secrets.agentAddresses[roomId] ?? [];
  }

  /** Whether an agent of the room may connect from `address` (always, when the credential is not bound). */
  addressAllowed(roomId: string, address: string): boolean {
    const match = addressMatcher(this.addresses(roomId));
    return match ? match(address) : true;
  }

  /** Binds the room's credential to these addresses (IPs or CIDRs); an empty list unbinds it. Audited first. */
  bind(roomId: string, addresses: readonly string[], actor: string): void {
    this.known(roomId);
    const bad = addresses.find((a) => !isAddressOrRange(a));
    if (bad !== undefined) throw new RangeError(`${JSON.stringify(bad.slice(0, 64))} is not an IP address or CIDR range`);
    const list = [...new Set(addresses)];
    this.audit.record({ actor, action: list.length ? 'agent.address_bound' : 'agent.address_unbound', subject: `room:${roomId}`, detail: { addresses: list } });
    if (list.length) Object.defineProperty(this.secrets.agentAddresses, roomId, { value: list, enumerable: true, writable: true, configurable: true });
    else delete this.secrets.agentAddresses[roomId];
    this.save();
  }

  /** The room has no working credential until the next rotation. */
  revoke(roomId: string, actor: string): void {
    this.known(roomId);
    this.audit.record({ actor, action: 'agent.credential_revoked', subject: `room:${roomId}`, detail: {} });
    this.set(roomId, '');
  }
}
