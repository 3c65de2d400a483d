// The room agent publishes into the room's session, reports health, and after
// a server restart reconnects and publishes again by itself.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, waitFor } from './helpers/server.js';
import { freeTcpPort, inProcessAgent, producerBytes } from './helpers/agent.js';
import type { RoomAgent } from '../room-agent/agent.js';
import { syntheticRoomAgent } from '../server/demo-agents.js';
import { syntheticParty } from './helpers/synthetic-party.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-agent-'));
let agent: RoomAgent | null = null;
afterAll(async () => {
  await agent?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function roomBytes(server: Awaited<ReturnType<typeof startTestServer>>): Promise<Record<string, number>> {
  const party = server.registry.forRoom('plea-1')?.partyList().find((p) => p.role === 'room');
  return party ? producerBytes(party.producerEntries()) : {};
}

describe('room agent', () => {
  it('publishes, reports health, and republishes after a server restart', async () => {
    const port = await freeTcpPort();
    const rooms = { site: { ...(await import('../server/config.js')).loadConfig({ env: {} }).site } };
    rooms.site.rooms = rooms.site.rooms.filter((r) => r.id === 'plea-1');
    let server = await startTestServer({ dataDir, port, overrides: rooms });
    agent = inProcessAgent(server, 'plea-1');
    agent.start();

    // RTP from the agent's ffmpeg reaches the room party's producers.
    const first = await waitFor('room producers receiving RTP', async () => {
      const b = await roomBytes(server);
      return (b['video'] ?? 0) > 20_000 && (b['audio'] ?? 0) > 1_000 ? b : null;
    });
    expect(first['video']).toBeGreaterThan(20_000);
    await waitFor('health report', () => server.signalling.agentStatus('plea-1').health?.ffmpeg.publishing === true);
    expect(server.signalling.agentStatus('plea-1').health).toMatchObject({ camera: { ok: true }, synthetic: true, network: { ok: true } });
    expect(agent.joins).toBe(1);

    // Server restart on the same port: the agent comes back by itself.
    await server.close();
    await waitFor('agent notices the server is gone', () => agent?.state === 'connecting', 15_000);
    server = await startTestServer({ dataDir, port, overrides: rooms });
    try {
      await waitFor('agent republished', () => (agent?.joins ?? 0) >= 2, 30_000);
      const again = await waitFor('RTP after restart', async () => {
        const b = await roomBytes(server);
        return (b['video'] ?? 0) > 20_000 ? b : null;
      });
      expect(again['video']).toBeGreaterThan(20_000);
      expect(agent.health().network.reconnects).toBeGreaterThanOrEqual(1);
      // The sessions of the first run were closed at start, with their audit entries.
      const closed = server.db.prepare("SELECT COUNT(*) AS n FROM sessions WHERE status = 'closed' AND close_reason IN ('server_stopping', 'server_restarted')").get() as { n: number };
      expect(closed.n).toBeGreaterThanOrEqual(1);
      expect(server.audit.verify()).toBeNull();
    } finally {
      await agent.stop();
      agent = null;
      await server.cleanup();
    }
  });

  it('media is SRTP both ways by default: the server decrypts what the agent encrypts, the agent\'s player decrypts what the server sends', async () => {
    const server = await startTestServer({ rooms: 1 });
    const room = server.config.site.rooms[0]!.id;
    const srtpAgent = syntheticRoomAgent(server, room, { play: true, healthIntervalMs: 1000, workDir: path.join(server.config.dataDir, 'srtp-agent') });
    srtpAgent.start();
    let other: Awaited<ReturnType<typeof syntheticParty>> | null = null;
    try {
      const party = () => server.registry.forRoom(room)?.partyList().find((p) => p.role === 'room');
      await waitFor('SRTP producers', () => party()?.producerEntries().length === 2, 30_000);
      expect(party()!.producerEntries().every((e) => e.producer.appData['srtp'] === true)).toBe(true);
      // mediasoup drops packets it cannot decrypt: bytes only rise when the keys match.
      const bytes = await waitFor('decrypted RTP', async () => {
        const b = await producerBytes(party()!.producerEntries());
        return (b['video'] ?? 0) > 20_000 && (b['audio'] ?? 0) > 1_000 ? b : null;
      });
      expect(bytes['video']).toBeGreaterThan(20_000);

      // Server → room: another party's camera, consumed over an SRTP PlainTransport, decoded by the agent's player.
      other = await syntheticParty(server, room, 'prosecutor', 'prosecutor');
      const video = await waitFor('the agent decodes the prosecutor\'s video', () => srtpAgent.playerStats().find((p) => p.role === 'prosecutor' && p.kind === 'video' && p.framesDecoded > 10), 45_000);
      expect(video.framesDecoded).toBeGreaterThan(10);
      // Each of the room's consumers goes over a PlainTransport made with SRTP (the player above could only decode it with the server's key).
      const consumers = party()!.consumerList();
      expect(consumers.length).toBeGreaterThanOrEqual(1);
      expect(consumers.every((c) => c.appData['srtp'] === true)).toBe(true);

      // The player's ffmpeg dies: it is not restarted on the same key (its SRTP rollover counter would be
      // wrong once the stream passed 65536 packets); the producer is consumed afresh, with a new key.
      const before = srtpAgent.playerStats().find((p) => p.role === 'prosecutor' && p.kind === 'video')!;
      process.kill(before.pid!, 'SIGKILL');
      const after = await waitFor('the prosecutor\'s video consumed afresh and decoded', () => srtpAgent.playerStats().find((p) => p.role === 'prosecutor' && p.kind === 'video' && p.consumerId !== before.consumerId && p.framesDecoded > 10), 45_000);
      expect(after.consumerId).not.toBe(before.consumerId);
      // The old consumer went with its transport: one consumer per producer on the server.
      const perProducer = party()!.consumerList().filter((c) => c.producerId === before.producerId);
      expect(perProducer.map((c) => c.id)).toEqual([after.consumerId]);
    } finally {
      other?.leave();
      await srtpAgent.stop();
      await server.cleanup();
    }
  }, 120_000);

  it('a plain RTP agent is refused unless the server switched plain RTP on', async () => {
    const server = await startTestServer({ rooms: 1 });
    const room = server.config.site.rooms[0]!.id;
    const plainAgent = syntheticRoomAgent(server, room, { plainRtp: true, workDir: path.join(server.config.dataDir, 'plain-agent') });
    plainAgent.start();
    try {
      await waitFor('refusal recorded', () => (server.db.prepare("SELECT COUNT(*) AS n FROM audit_entries WHERE action = 'access.refused' AND subject = 'event:agent:publish'").get() as { n: number }).n >= 1, 30_000);
      expect(server.registry.forRoom(room)?.partyList().find((p) => p.role === 'room')?.producerEntries().length ?? 0).toBe(0);
    } finally {
      await plainAgent.stop();
      await server.cleanup();
    }
  }, 60_000);
});
