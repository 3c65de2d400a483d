// The room agent program for a room's PC. Configured by environment (or a JSON
// file named by PLEA_AGENT_CONFIG), validated at start:
//   PLEA_SERVER_URL, PLEA_ROOM_ID, PLEA_ROOM_NAME, PLEA_AGENT_CREDENTIAL,
//   PLEA_SYNTHETIC=1 (test sources) or PLEA_VIDEO_DEVICE / PLEA_AUDIO_DEVICE,
//   PLEA_SINK=play|file|null, PLEA_SINK_DIR, PLEA_MEDIA_IP, PLEA_FFMPEG, PLEA_WORK_DIR,
//   PLEA_PLAIN_RTP=1 (plain RTP instead of SRTP both ways: an explicit switch, warned about;
//   the server must allow it too, media.agentPlainRtp),
//   PLEA_SYNTHETIC=beep-flash (the beep-and-flash pattern), PLEA_EVIDENCE=0 (no evidence video).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import Type from 'typebox';
import { pino } from 'pino';
import { checker } from '../server/validation.js';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import { secretLogPaths } from '../server/logger.js';
import { RoomAgent } from './agent.js';

const AgentConfig = Type.Object(
  {
    serverUrl: Type.String({ pattern: '^https?://' }),
    roomId: Type.String({ minLength: 1 }),
    roomName: Type.String({ minLength: 1 }),
    credential: Type.String({ minLength: 16 }),
    synthetic: Type.Boolean(),
    videoDevice: Type.String(),
    audioDevice: Type.String(),
    width: Type.Integer({ minimum: 160, maximum: 1920 }),
    height: Type.Integer({ minimum: 120, maximum: 1080 }),
    fps: Type.Integer({ minimum: 5, maximum: 30 }),
    sink: Type.Union([Type.Literal('play'), Type.Literal('file'), Type.Literal('null')]),
    sinkDir: Type.String(),
    mediaIp: Type.String({ minLength: 1 }),
    ffmpeg: Type.String(),
    workDir: Type.String({ minLength: 1 }),
    healthIntervalMs: Type.Integer({ minimum: 500, maximum: 60000 }),
    /** Media to and from the room over plain RTP instead of SRTP (off unless switched on). */
    plainRtp: Type.Boolean(),
    beepFlash: Type.Boolean(),
    evidence: Type.Boolean(),
  },
  { additionalProperties: false }
);

const env = process.env;
const fileConfig = env['PLEA_AGENT_CONFIG'] ? (JSON.parse(readFileSync(env['PLEA_AGENT_CONFIG'], 'utf8')) as Record<string, unknown>) : {};
const raw = {
  serverUrl: env['PLEA_SERVER_URL'] ?? 'http://127.0.0.1:8080',
  roomId: env['PLEA_ROOM_ID'] ?? '',
  roomName: env['PLEA_ROOM_NAME'] ?? env['PLEA_ROOM_ID'] ?? '',
  credential: env['PLEA_AGENT_CREDENTIAL'] ?? '',
  synthetic: /^(1|true|yes|beep-flash)$/i.test(env['PLEA_SYNTHETIC'] ?? ''),
  videoDevice: env['PLEA_VIDEO_DEVICE'] ?? '/dev/video0',
  audioDevice: env['PLEA_AUDIO_DEVICE'] ?? 'default',
  width: 1280,
  height: 720,
  fps: 25,
  sink: (env['PLEA_SINK'] ?? 'play') as 'play',
  sinkDir: env['PLEA_SINK_DIR'] ?? '',
  mediaIp: env['PLEA_MEDIA_IP'] ?? '127.0.0.1',
  ffmpeg: env['PLEA_FFMPEG'] ?? '',
  workDir: env['PLEA_WORK_DIR'] ?? path.join(os.tmpdir(), 'plea-room-agent'),
  healthIntervalMs: 5000,
  plainRtp: /^(1|true|yes)$/i.test(env['PLEA_PLAIN_RTP'] ?? ''),
  // PLEA_SYNTHETIC=beep-flash: the beep-and-flash pattern (A/V sync measurement).
  beepFlash: /^beep-flash$/i.test(env['PLEA_SYNTHETIC'] ?? ''),
  // The evidence video of booking sessions is rendered unless PLEA_EVIDENCE=0.
  evidence: !/^(0|false|no)$/i.test(env['PLEA_EVIDENCE'] ?? '1'),
  ...fileConfig,
};
const checked = checker(AgentConfig).check(raw);
if (!checked.ok) {
  console.error(`room agent: invalid configuration: ${checked.message}`);
  process.exit(2);
}
const c = checked.value;
// Keys and the credential never reach the log, wherever they sit in a logged object.
const log = pino({ level: env['PLEA_LOG_LEVEL'] ?? 'info', redact: { paths: secretLogPaths, censor: '[redacted]' } }).child({ component: 'room-agent' });
const ffmpegPath = findFfmpeg(c.ffmpeg).path;
const ffplay = spawnSync('ffplay', ['-version'], { stdio: 'ignore' }).status === 0 ? 'ffplay' : null;
const sink =
  c.sink === 'file' ? { kind: 'file' as const, dir: c.sinkDir || path.join(c.workDir, 'received') }
  : c.sink === 'play' && ffplay ? { kind: 'play' as const, ffplay }
  : { kind: 'null' as const };
if (c.sink === 'play' && !ffplay) log.warn('ffplay not found: received media goes to a null sink');

const agent = new RoomAgent({
  serverUrl: c.serverUrl,
  roomId: c.roomId,
  roomName: c.roomName,
  credential: c.credential,
  ffmpegPath,
  workDir: c.workDir,
  capture: c.synthetic ? { kind: 'synthetic', pattern: c.beepFlash ? 'beep-flash' : 'clip' } : { kind: 'devices', videoDevice: c.videoDevice, audioDevice: c.audioDevice, width: c.width, height: c.height, fps: c.fps },
  sink,
  play: true,
  mediaIp: c.mediaIp,
  healthIntervalMs: c.healthIntervalMs,
  plainRtp: c.plainRtp,
  ...(c.evidence ? { evidence: {} } : {}),
  log: (level, msg, extra) => log[level](extra ?? {}, msg),
});
agent.start();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    void agent.stop().then(() => process.exit(0));
  });
}
