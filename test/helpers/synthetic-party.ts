// A remote party (prosecutor, lawyer, guest) that publishes a synthetic camera
// and microphone over plain RTP with ffmpeg, added to a live session directly
// (without a browser): a cheap, real media source for recording tests.
import path from 'node:path';
import type { RunningServer } from '../../server/app.js';
import type { Party } from '../../server/session/party.js';
import type { PartyRole } from '../../server/signalling/protocol.js';
import { findFfmpeg } from '../../server/media/ffmpeg-binary.js';
import { Publisher, publishTracks } from '../../room-agent/publisher.js';
import { ensureSyntheticClip } from '../../room-agent/synthetic-clip.js';

export interface SyntheticParty {
  party: Party;
  publisher: Publisher;
  leave(): void;
}

let seed = 500;

export async function syntheticParty(server: Pick<RunningServer, 'registry' | 'config'>, roomId: string, role: Exclude<PartyRole, 'room'>, name: string): Promise<SyntheticParty> {
  const session = server.registry.forRoom(roomId);
  if (!session) throw new Error(`no session in ${roomId}`);
  const ffmpeg = findFfmpeg(server.config.ffmpegPath).path;
  const clip = await ensureSyntheticClip(ffmpeg, path.join(server.config.dataDir, 'clips'), { roomId: `party-${role}`, roomName: name, width: 320, height: 240 });
  const party = session.addParty(role, name);
  const tracks = publishTracks(seed++);
  const targets = await party.publishPlain(tracks);
  const publisher = new Publisher(ffmpeg, { kind: 'synthetic', clip }, tracks, { onExit: () => undefined });
  publisher.start(targets);
  return {
    party,
    publisher,
    leave() {
      publisher.stop();
      party.close('left');
    },
  };
}
