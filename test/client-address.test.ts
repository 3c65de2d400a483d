// The signalling derives a connection's address exactly as Fastify derives
// request.ip under http.trustProxy: X-Forwarded-For counts only when the peer
// is a trusted proxy, walked from the right through trusted hops. Parity with
// Fastify itself (the function), and the real Socket.io edge: the address a
// refused and an accepted handshake are audited with, beside the address the
// HTTP edge audits for the same headers.
import type { IncomingMessage } from 'node:http';
import Fastify from 'fastify';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { clientAddress, trustFunction, type TrustProxy } from '../server/http/client-address.js';
import { startTestServer, waitFor } from './helpers/server.js';

const headerCases: Array<string | undefined> = [undefined, '203.0.113.7', '198.51.100.9, 203.0.113.7', '10.1.2.3, 127.0.0.1', 'not-an-ip', '198.51.100.9,10.0.0.5'];
const trustCases: TrustProxy[] = [false, true, 'loopback', '127.0.0.1', '10.0.0.0/8', '127.0.0.1, 10.0.0.0/8'];

describe('client address under trustProxy', () => {
  it('matches Fastify\'s request.ip for every trust setting and X-Forwarded-For chain', async () => {
    let compared = 0;
    let differsFromPeer = 0;
    for (const trust of trustCases) {
      const app = Fastify({ trustProxy: trust });
      app.get('/ip', async (req) => ({ ip: req.ip, ours: clientAddress(req.raw as IncomingMessage, trustFunction(trust)) }));
      await app.ready();
      for (const xff of headerCases) {
        const res = await app.inject({ method: 'GET', url: '/ip', remoteAddress: '127.0.0.1', headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });
        const { ip, ours } = res.json() as { ip: string; ours: string };
        expect(ours, `trustProxy ${JSON.stringify(trust)}, X-Forwarded-For ${xff}`).toBe(ip);
        compared++;
        if (ip !== '127.0.0.1') differsFromPeer++;
      }
      await app.close();
    }
    expect(compared).toBe(trustCases.length * headerCases.length);
    // The interesting case (an address taken from the header) was exercised, not only the peer's.
    expect(differsFromPeer).toBeGreaterThanOrEqual(8);
  });

  async function edgeAddresses(trust: TrustProxy, xff: string): Promise<{ http: string; refused: string; agent: string }> {
    const server = await startTestServer({ rooms: 1, overrides: { http: { host: '127.0.0.1', port: 0, publicUrl: '', trustProxy: trust, allowedOrigins: [] } } });
    try {
      const latest = (action: string): string | null => {
        const row = server.db.prepare('SELECT detail FROM audit_entries WHERE action = ? ORDER BY seq DESC LIMIT 1').get(action) as { detail: string } | undefined;
        return row ? (JSON.parse(row.detail) as { remoteAddress: string }).remoteAddress : null;
      };
      // HTTP: a refused request is audited with request.ip.
      const res = await fetch(`${server.url}/api/audit/verify`, { headers: { 'x-forwarded-for': xff } });
      expect(res.status).toBeGreaterThanOrEqual(400);
      const http = await waitFor('the refused request audited', () => latest('access.refused'));
      // Socket.io: a refused handshake, then a room agent's accepted one.
      const bad = io(server.url, { transports: ['websocket'], reconnection: false, extraHeaders: { 'x-forwarded-for': xff }, auth: { kind: 'agent', roomId: server.config.site.rooms[0]!.id, credential: 'x'.repeat(20) } });
      await new Promise<void>((resolve) => bad.once('connect_error', () => resolve()));
      bad.close();
      const refused = await waitFor('the refused handshake audited', () => latest('handshake.refused'));
      const roomId = server.config.site.rooms[0]!.id;
      const good = io(server.url, { transports: ['websocket'], reconnection: false, extraHeaders: { 'x-forwarded-for': xff }, auth: { kind: 'agent', roomId, credential: server.secrets.agentCredentials[roomId] ?? '' } });
      await new Promise<void>((resolve, reject) => {
        good.once('connect', () => resolve());
        good.once('connect_error', reject);
      });
      good.close();
      const agent = await waitFor('the agent connection audited', () => latest('agent.connected'));
      return { http: http.replace(/^::ffff:/, ''), refused, agent };
    } finally {
      await server.cleanup();
    }
  }

  it('the Socket.io edge audits the address Fastify sees: the forwarded one behind a trusted proxy, the peer otherwise', async () => {
    const trusted = await edgeAddresses('loopback', '198.51.100.9, 203.0.113.7');
    expect(trusted).toEqual({ http: '203.0.113.7', refused: '203.0.113.7', agent: '203.0.113.7' });
    // A direct client (its peer not a trusted proxy) cannot claim an address with the header.
    const untrusted = await edgeAddresses('10.0.0.0/8', '203.0.113.7');
    expect(untrusted).toEqual({ http: '127.0.0.1', refused: '127.0.0.1', agent: '127.0.0.1' });
  }, 60_000);
});
