// A room's agent credential is rotated and revoked while the server runs: the
// old one stops working at once, the live agent is dropped, each change audited;
// the routes are for administrators only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { connect, type TestSocket } from './helpers/client.js';
import { staffOf } from './helpers/staff.js';
import { signedInAs } from './helpers/accounts.js';
import type { AgentAlert } from '../server/signalling/protocol.js';

/** The next agent alert a staff board receives (within `ms`), or null. */
function nextAlert(board: TestSocket, ms = 5000): Promise<AgentAlert | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      board.off('agent:alert', on);
      resolve(null);
    }, ms);
    const on = (a: AgentAlert) => {
      clearTimeout(timer);
      resolve(a);
    };
    board.once('agent:alert', on);
  });
}
const lastRefusal = (s: Server): Record<string, unknown> =>
  JSON.parse((s.db.prepare("SELECT detail FROM audit_entries WHERE action = 'handshake.refused' ORDER BY seq DESC LIMIT 1").get() as { detail: string }).detail) as Record<string, unknown>;

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

  it('a second connection with a live agent\'s credential is refused, audited with its address, and raised on the staff board', async () => {
    const room = 'interrogation-1';
    const credential = server.agentCredentials.rotate(room, 'user:admin');
    const board = await connect(server.url, { kind: 'board' }, { cookie: (await staffOf(server)).cookie });
    const live = await connect(server.url, { kind: 'agent', roomId: room, credential });
    try {
      const alert = nextAlert(board);
      await expect(connect(server.url, { kind: 'agent', roomId: room, credential })).rejects.toThrow(/already has a connected agent/);
      expect(await alert).toMatchObject({ roomId: room, reason: 'second_connection', remoteAddress: '127.0.0.1' });
      expect(lastRefusal(server)).toMatchObject({ remoteAddress: '127.0.0.1', roomId: room });
      // The live agent stays.
      expect(live.connected).toBe(true);
      // A loop of impostors gets one alert per 30 s, not one per try.
      const more = nextAlert(board, 1500);
      for (let i = 0; i < 3; i++) await connect(server.url, { kind: 'agent', roomId: room, credential }).catch(() => undefined);
      expect(await more).toBeNull();
    } finally {
      live.close();
      board.close();
    }
  });

  it('a credential bound to the room PC\'s address is refused from elsewhere (audited with the address, raised to staff); the binding is the administrator\'s, over REST, without a restart', async () => {
    const room = 'interrogation-1';
    const credential = server.agentCredentials.rotate(room, 'user:admin');
    const admin = await signedInAs(server, 'administrator');
    const board = await connect(server.url, { kind: 'board' }, { cookie: (await staffOf(server)).cookie });
    // Connected from 127.0.0.1 before the binding: dropped when bound elsewhere.
    const live = await connect(server.url, { kind: 'agent', roomId: room, credential });
    const dropped = new Promise<string>((resolve) => live.once('disconnect', (reason) => resolve(reason)));
    try {
      expect((await admin.call('PUT', `/api/rooms/${room}/agent-address`, { addresses: ['not an address'] })).status).toBe(400);
      expect((await admin.call('PUT', `/api/rooms/${room}/agent-address`, { addresses: ['10.0.0.300'] })).status).toBe(400);
      const bound = await admin.call('PUT', `/api/rooms/${room}/agent-address`, { addresses: ['10.20.30.40', '192.0.2.0/24'] });
      expect(bound).toMatchObject({ status: 200, body: { roomId: room, addresses: ['10.20.30.40', '192.0.2.0/24'] } });
      expect(await dropped).toBe('io server disconnect');
      const alert = nextAlert(board);
      await expect(connect(server.url, { kind: 'agent', roomId: room, credential })).rejects.toThrow(/bound to other addresses/);
      expect(await alert).toMatchObject({ roomId: room, reason: 'wrong_address', remoteAddress: '127.0.0.1' });
      expect(lastRefusal(server)).toMatchObject({ remoteAddress: '127.0.0.1', roomId: room });
      expect(String(lastRefusal(server)['reason'])).toMatch(/bound to other addresses: refused from 127\.0\.0\.1/);
      // The list says the binding (never the credential); another room is not bound.
      const listed = await admin.call<{ rooms: Array<{ roomId: string; addresses: string[] }> }>('GET', '/api/rooms/agent-credentials');
      expect(listed.body.rooms.find((r) => r.roomId === room)?.addresses).toEqual(['10.20.30.40', '192.0.2.0/24']);
      // Bound to the room PC's range: it connects.
      expect((await admin.call('PUT', `/api/rooms/${room}/agent-address`, { addresses: ['127.0.0.0/8'] })).status).toBe(200);
      const fromRoom = await connect(server.url, { kind: 'agent', roomId: room, credential });
      fromRoom.close();
      // Unbound: from anywhere again.
      expect((await admin.call('PUT', `/api/rooms/${room}/agent-address`, { addresses: [] })).body).toMatchObject({ addresses: [] });
      (await connect(server.url, { kind: 'agent', roomId: room, credential })).close();
      // Each change of the binding is audited.
      const actions = (server.db.prepare("SELECT action FROM audit_entries WHERE action LIKE 'agent.address_%' ORDER BY seq").all() as Array<{ action: string }>).map((r) => r.action);
      expect(actions).toEqual(['agent.address_bound', 'agent.address_bound', 'agent.address_unbound']);
      // Only an administrator binds.
      const staff = await staffOf(server);
      expect([401, 403]).toContain((await staff.call('PUT', `/api/rooms/${room}/agent-address`, { addresses: ['127.0.0.1'] })).status);
    } finally {
      live.close();
      board.close();
    }
  });

  it('the REST routes refuse anyone but an administrator', async () => {
    const staff = await staffOf(server);
    for (const headers of [{}, staff.headers(true)] as Array<Record<string, string>>) {
      const res = await fetch(`${server.url}/api/rooms/interrogation-1/agent-credential`, { method: 'POST', headers });
      expect([401, 403]).toContain(res.status);
    }
  });
});
