// Synthetic room agents for the demo: one per configured room, in this process,
// each exactly the room-agent program's RoomAgent with test sources.
import path from 'node:path';
import type { RunningServer } from './app.js';
import { findFfmpeg } from './media/ffmpeg-binary.js';
import { componentLogger } from './logger.js';
import { RoomAgent } from '../room-agent/agent.js';

export function startDemoAgents(server: RunningServer, play = false): RoomAgent[] {
  const log = componentLogger(server.log, 'demo-agent');
  const ffmpegPath = findFfmpeg(server.config.ffmpegPath).path;
  const agents = server.config.site.rooms.map(
    (room) =>
      new RoomAgent({
        serverUrl: `http://127.0.0.1:${server.port}`,
        roomId: room.id,
        roomName: room.name,
        credential: server.secrets.agentCredentials[room.id] ?? '',
        ffmpegPath,
        workDir: path.join(server.config.dataDir, 'agents'),
        capture: { kind: 'synthetic' },
        sink: { kind: 'null' },
        play,
        mediaIp: '127.0.0.1',
        healthIntervalMs: 5000,
        log: (level, msg, extra) => log[level](extra ?? {}, msg),
      })
  );
  for (const a of agents) a.start();
  return agents;
}
