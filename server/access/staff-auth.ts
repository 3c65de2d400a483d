// Staff authentication for the schedule: each staff member has a key (config
// access.staffKeys, or one generated key for "staff"); requests carry it as
// `Authorization: Bearer <key>`, boards in their handshake. The staff id the key
// belongs to is who the audit trail names.
import { timingSafeEqual } from 'node:crypto';

export class StaffKeys {
  constructor(private readonly keys: Record<string, string>) {}

  /** The staff id whose key this is, or null. */
  staffFor(key: string | undefined): string | null {
    if (!key) return null;
    const given = Buffer.from(key);
    let found: string | null = null;
    for (const [staffId, k] of Object.entries(this.keys)) {
      const expected = Buffer.from(k);
      // Compare against every key, so the time taken says nothing about which matched.
      if (expected.length === given.length && timingSafeEqual(expected, given)) found = staffId;
    }
    return found;
  }

  fromAuthorization(header: string | undefined): string | null {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    return this.staffFor(m?.[1]);
  }
}
