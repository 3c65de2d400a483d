// Synthetic room agents for the demo: one per configured room, in this process,
// each exactly the room-agent program's RoomAgent with test sources.
import path from 'node:path';
import type { RunningServer } from './app.js';
import { findFfmpeg } from './media/ffmpeg-binary.js';
import { componentLogger } from './logger.js';
import { RoomAgent } from '../room-agent/agent.js';

type AgentHost = Pick<RunningServer, 'port' | 'config' | 'secrets'> & { log?: RunningServer['log'] };

/** A room agent with synthetic camera and microphone, connected to this server over loopback. */
export function syntheticRoomAgent(server: AgentHost, roomId: string, options: { play?: boolean; healthIntervalMs?: number; workDir?: string; plainRtp?: boolean } = {}): RoomAgent {
  const room = server.config.site.rooms.find((r) => r.id === roomId);
  if (!room) throw new Error(`no room ${roomId}`);
  const log = server.log ? componentLogger(server.log, 'demo-agent') : null;
  return new RoomAgent({
    serverUrl: `http://127.0.0.1:${server.port}`,
    roomId,
    roomName: room.name,
    credential: server.secrets.agentCredentials[roomId] ?? '',
    ffmpegPath: findFfmpeg(server.config.ffmpegPath).path,
    workDir: options.workDir ?? path.join(server.config.dataDir, 'agents'),
    capture: { kind: 'synthetic' },
    sink: { kind: 'null' },
    play: options.play ?? false,
    mediaIp: '127.0.0.1',
    healthIntervalMs: options.healthIntervalMs ?? 5000,
    plainRtp: options.plainRtp ?? false,
    ...(log ? { log: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => log[level](extra ?? {}, msg) } : {}),
  });
}

export function startDemoAgents(server: RunningServer, play = false): RoomAgent[] {
  const agents = server.config.site.rooms.map((room) => syntheticRoomAgent(server, room.id, { play }));
  for (const a of agents) a.start();
  return agents;
}
