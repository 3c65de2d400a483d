// The room's player (and the evidence compositor behind its tap) takes media
// only from the server: a stray sender on its receiving port gets nothing
// through, with plain RTP from another port (the gate's source check) or with
// SRTP under a wrong key from the server's own address and port (a forged
// source: SRTP authentication drops it). The same player decodes the real
// sender, so the zeros are not a dead player. Real ffmpeg on both ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaGate } from '../room-agent/media-gate.js';
import { Player, sdpFor } from '../room-agent/player.js';
import { freePortPair } from '../room-agent/ports.js';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import type { PlainConsumerInfo } from '../server/signalling/protocol.js';
import { waitFor } from './helpers/server.js';

const ffmpeg = findFfmpeg('').path;
const running: Array<{ stop(): void } | ChildProcess> = [];
afterEach(() => {
  for (const r of running.splice(0)) {
    if ('kill' in r) r.kill('SIGKILL');
    else r.stop();
  }
});

const key = () => randomBytes(30).toString('base64');

/** A VP8 RTP sender (small picture, cheap): SRTP with `srtpKey`, from `fromPort` (RTCP from fromPort + 1) when given. */
function sender(gate: MediaGate, options: { srtpKey?: string; fromPort?: number }): ChildProcess {
  const local = options.fromPort ? `&localrtpport=${options.fromPort}&localrtcpport=${options.fromPort + 1}` : '';
  const url = `${options.srtpKey ? 'srtp' : 'rtp'}://127.0.0.1:${gate.port}?rtcpport=${gate.rtcpPort}&pkt_size=1200${local}`;
  const child = spawn(ffmpeg, [
    '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10',
    '-c:v', 'libvpx', '-g', '5', '-deadline', 'realtime', '-cpu-used', '8', '-threads', '1', '-b:v', '200k',
    '-payload_type', '101', '-ssrc', '4242',
    ...(options.srtpKey ? ['-srtp_out_suite', 'AES_CM_128_HMAC_SHA1_80', '-srtp_out_params', options.srtpKey] : []),
    '-f', 'rtp', url,
  ], { stdio: ['ignore', 'ignore', 'ignore'] });
  running.push(child);
  return child;
}

function stopSender(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('close', () => resolve());
    child.kill('SIGKILL');
  });
}

async function playerUnderTest(srtpKey: string | undefined): Promise<{ player: Player; gate: MediaGate; serverPort: number; tapBytes: () => number }> {
  const gate = await MediaGate.open('127.0.0.1');
  const [serverPort] = await freePortPair('127.0.0.1', 50000, 59998);
  const info: PlainConsumerInfo = {
    consumerId: randomUUID(),
    producerId: randomUUID(),
    partyId: randomUUID(),
    role: 'prosecutor',
    kind: 'video',
    rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }] },
    sourceIp: '127.0.0.1',
    sourcePort: serverPort,
    sourceRtcpPort: serverPort + 1,
    ...(srtpKey ? { srtpKey } : {}),
  };
  let tapped = 0;
  // The evidence compositor's inset: decoded frames on pipe:3.
  const tap = { outputArgs: ['-map', '0:v:0', '-vf', 'scale=32:24', '-pix_fmt', 'gray', '-f', 'rawvideo', 'pipe:3'], onData: (d: Buffer) => (tapped += d.length) };
  const player = new Player(ffmpeg, info, gate, { kind: 'null' }, undefined, tap);
  running.push(player);
  player.start();
  return { player, gate, serverPort, tapBytes: () => tapped };
}

/** Lets a stray sender run for a few seconds, once its datagrams are seen arriving at the gate; returns how many the gate dropped meanwhile. */
async function strayRun(gate: MediaGate, child: ChildProcess): Promise<number> {
  const seen = () => gate.counts.passed + gate.counts.dropped;
  const before = seen();
  const droppedBefore = gate.counts.dropped;
  await waitFor('stray datagrams arriving at the gate', () => seen() > before + 30, 15_000);
  await new Promise((r) => setTimeout(r, 3000));
  await stopSender(child);
  return gate.counts.dropped - droppedBefore;
}

describe('the room agent takes media only from the server', () => {
  it('SRTP: plain RTP from a stray port and SRTP under a wrong key from the server\'s own port reach neither the player nor the compositor; the server\'s stream does', async () => {
    const serverKey = key();
    const { player, gate, serverPort, tapBytes } = await playerUnderTest(serverKey);

    // 1. A stray sender, plain RTP, from a port of its own.
    const droppedStray = await strayRun(gate, sender(gate, {}));
    expect(player.framesDecoded).toBe(0);
    expect(tapBytes()).toBe(0);
    // 2. A forger of the server's address and port, without the key: through the gate, stopped by SRTP.
    const droppedForged = await strayRun(gate, sender(gate, { srtpKey: key(), fromPort: serverPort }));
    expect(player.framesDecoded).toBe(0);
    expect(tapBytes()).toBe(0);
    expect(droppedStray).toBeGreaterThan(30);
    expect(droppedForged).toBe(0);

    // 3. The server (its address, its port, its key): decoded and tapped.
    sender(gate, { srtpKey: serverKey, fromPort: serverPort });
    await waitFor('frames of the real sender', () => player.framesDecoded > 10 && tapBytes() > 0, 30_000);
  }, 90_000);

  it('plain RTP (the explicit switch): the source check alone keeps a stray sender out', async () => {
    const { player, gate, serverPort, tapBytes } = await playerUnderTest(undefined);
    const dropped = await strayRun(gate, sender(gate, {}));
    expect(player.framesDecoded).toBe(0);
    expect(tapBytes()).toBe(0);
    expect(dropped).toBeGreaterThan(30);
    sender(gate, { fromPort: serverPort });
    await waitFor('frames of the real sender', () => player.framesDecoded > 10 && tapBytes() > 0, 30_000);
  }, 60_000);

  it('the SDP admits loopback only and carries the key; a server string that is not a plain codec name or key is refused', () => {
    const info: PlainConsumerInfo = {
      consumerId: randomUUID(), producerId: randomUUID(), partyId: randomUUID(), role: 'lawyer', kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 } as PlainConsumerInfo['rtpParameters']['codecs'][number]] },
      sourceIp: '10.0.0.1', sourcePort: 40000, sourceRtcpPort: 40001, srtpKey: key(),
    };
    const sdp = sdpFor(info, 41000);
    expect(sdp).toContain('a=source-filter: incl IN IP4 * 127.0.0.1');
    expect(sdp).toContain(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${info.srtpKey}`);
    expect(() => sdpFor({ ...info, srtpKey: 'x\r\na=crypto:2 bad' }, 41000)).toThrow(/SRTP key/);
    expect(() => sdpFor({ ...info, rtpParameters: { codecs: [{ mimeType: 'audio/opus\r\nc=IN IP4 1.2.3.4', payloadType: 100, clockRate: 48000 }] } }, 41000)).toThrow(/codec name/);
  });
});
