// Room agents for tests: in-process (the RoomAgent class) or as the real
// room-agent program in a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import type { types } from 'mediasoup';
import type { RunningServer } from '../../server/app.js';
import type { RoomAgent } from '../../room-agent/agent.js';
import { syntheticRoomAgent } from '../../server/demo-agents.js';

export function inProcessAgent(server: Pick<RunningServer, 'port' | 'config' | 'secrets'>, roomId: string, play = false): RoomAgent {
  return syntheticRoomAgent(server, roomId, { play, healthIntervalMs: 1000, workDir: path.join(server.config.dataDir, 'agent') });
}

export function agentProcess(server: RunningServer, roomId: string): ChildProcess {
  const room = server.config.site.rooms.find((r) => r.id === roomId);
  // One process (node with the tsx loader), so that killing it kills the agent itself.
  return spawn(process.execPath, ['--import', 'tsx', 'room-agent/main.ts'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      PLEA_SERVER_URL: server.url,
      PLEA_ROOM_ID: roomId,
      PLEA_ROOM_NAME: room?.name ?? roomId,
      PLEA_AGENT_CREDENTIAL: server.secrets.agentCredentials[roomId] ?? '',
      PLEA_SYNTHETIC: '1',
      PLEA_SINK: 'null',
      PLEA_MEDIA_IP: '127.0.0.1',
      PLEA_WORK_DIR: path.join(server.config.dataDir, 'agent-process'),
      PLEA_LOG_LEVEL: 'warn',
    },
  });
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Bytes received so far by a party's producers, by kind (mediasoup stats). */
export async function producerBytes(producers: Array<{ producer: types.Producer }>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { producer } of producers) {
    const stats = await producer.getStats();
    out[producer.kind] = (out[producer.kind] ?? 0) + stats.reduce((n, s) => n + (s.byteCount ?? 0), 0);
  }
  return out;
}
