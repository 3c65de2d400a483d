// A room's agent credential is rotated and revoked while the server runs: the
// old one stops working at once, the live agent is dropped, each change audited;
// the routes are for administrators only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { connect } from './helpers/client.js';
import { staffOf } from './helpers/staff.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
beforeAll(async () => {
  server = await startTestServer({ rooms: 1 });
});
afterAll(async () => server?.cleanup());

describe('room agent credentials', () => {
  it('rotation drops the live agent and refuses the old credential; the new one works; revocation refuses all', async () => {
    const old = server.secrets.agentCredentials['interrogation-1']!;
    const live = await connect(server.url, { kind: 'agent', roomId: 'interrogation-1', credential: old });
    const dropped = new Promise<string>((resolve) => live.once('disconnect', (reason) => resolve(reason)));
    const fresh = server.agentCredentials.rotate('interrogation-1', 'user:admin');
    server.signalling.disconnectAgent('interrogation-1');
    expect(await dropped).toBe('io server disconnect');
    await expect(connect(server.url, { kind: 'agent', roomId: 'interrogation-1', credential: old })).rejects.toThrow(/wrong agent credential/);
    const again = await connect(server.url, { kind: 'agent', roomId: 'interrogation-1', credential: fresh });
    again.close();
    server.agentCredentials.revoke('interrogation-1', 'user:admin');
    await expect(connect(server.url, { kind: 'agent', roomId: 'interrogation-1', credential: fresh })).rejects.toThrow(/wrong agent credential/);
    const actions = (server.db.prepare("SELECT action FROM audit_entries WHERE action LIKE 'agent.credential_%'").all() as Array<{ action: string }>).map((r) => r.action);
    expect(actions).toEqual(['agent.credential_rotated', 'agent.credential_revoked']);
  });

  it('the REST routes refuse anyone but an administrator', async () => {
    const staff = await staffOf(server);
    for (const headers of [{}, staff.headers(true)] as Array<Record<string, string>>) {
      const res = await fetch(`${server.url}/api/rooms/interrogation-1/agent-credential`, { method: 'POST', headers });
      expect([401, 403]).toContain(res.status);
    }
  });
});
