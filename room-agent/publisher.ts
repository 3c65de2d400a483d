// Publishes the room's camera and microphone to mediasoup PlainTransports as RTP
// (with RTCP on its own port) from one ffmpeg process: the looped synthetic
// clip (copy), or the real devices (v4l2 / ALSA) encoded to VP8 and Opus with
// the time shown in the picture.
import ffmpeg from 'fluent-ffmpeg';
import type { PlainPublishTarget, PlainTrack } from '../server/signalling/protocol.js';
import type { ChildReaper } from './child-reaper.js';
import { captureTapOutputArgs, type CaptureTap } from './capture-tap.js';

/**
 * The ffmpeg inputs that open the room's camera and microphone, and the maps of
 * their video and audio streams. The real devices by default (v4l2 + ALSA); a
 * test stands a lavfi source in for them and runs the very same code path.
 */
export interface DeviceInput {
  inputs: Array<{ url: string; options: string[] }>;
  videoMap: string;
  audioMap: string;
}

export interface DeviceCapture {
  kind: 'devices';
  videoDevice: string;
  audioDevice: string;
  width: number;
  height: number;
  fps: number;
  /** Replaces the v4l2 + ALSA inputs (tests only). */
  input?: DeviceInput;
}

export type CaptureSource = { kind: 'synthetic'; clip: string } | DeviceCapture;

export function deviceInput(s: DeviceCapture): DeviceInput {
  return (
    s.input ?? {
      inputs: [
        { url: s.videoDevice, options: ['-f', 'v4l2', '-framerate', String(s.fps), '-video_size', `${s.width}x${s.height}`, '-thread_queue_size', '512'] },
        { url: s.audioDevice, options: ['-f', 'alsa', '-thread_queue_size', '512'] },
      ],
      videoMap: '0:v:0',
      audioMap: '1:a:0',
    }
  );
}

export const publishTracks = (seed: number): PlainTrack[] => [
  { kind: 'video', source: 'camera', mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, ssrc: 10_000_000 + (seed % 1_000_000) * 2 },
  { kind: 'audio', source: 'microphone', mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, ssrc: 10_000_001 + (seed % 1_000_000) * 2 },
];

function rtpUrl(t: PlainPublishTarget, track: PlainTrack): string {
  const local = track.sourcePort ? `&localrtpport=${track.sourcePort}&localrtcpport=${track.sourceRtcpPort ?? track.sourcePort + 1}` : '';
  return `${track.srtpKey ? 'srtp' : 'rtp'}://${t.ip}:${t.port}?rtcpport=${t.rtcpPort}&pkt_size=1200${local}`;
}

/** With SRTP, ffmpeg encrypts with the track's key (the server was given the same). */
function srtpOptions(track: PlainTrack): string[] {
  return track.srtpKey ? ['-srtp_out_suite', 'AES_CM_128_HMAC_SHA1_80', '-srtp_out_params', track.srtpKey] : [];
}

/**
 * ffmpeg does not answer key-frame requests, so a new viewer waits for the
 * next key frame: one every 0.2 s (the cost in bitrate: README, "Figures").
 */
export const LIVE_KEY_FRAME_INTERVAL_S = 0.2;
const keyFrameInterval = (fps: number): number => Math.max(1, Math.round(fps * LIVE_KEY_FRAME_INTERVAL_S));

export interface PublisherEvents {
  onExit(code: number | null, detail: string): void;
}

export class Publisher {
  private command: ffmpeg.FfmpegCommand | null = null;
  private stopped = false;
  private stderrTail = '';

  constructor(
    private readonly ffmpegPath: string,
    private readonly source: CaptureSource,
    private readonly tracks: PlainTrack[],
    private readonly events: PublisherEvents,
    private readonly children?: ChildReaper,
    /** With devices: the same capture, also handed to the evidence compositor. */
    private readonly tap?: CaptureTap
  ) {}

  private pidValue: number | undefined;

  /** The running ffmpeg's pid (the one process that opened the capture devices). */
  get pid(): number | undefined {
    return this.command ? this.pidValue : undefined;
  }

  get running(): boolean {
    return this.command !== null;
  }

  start(targets: PlainPublishTarget[]): void {
    const video = targets.find((t) => t.kind === 'video');
    const audio = targets.find((t) => t.kind === 'audio');
    const vTrack = this.tracks.find((t) => t.kind === 'video');
    const aTrack = this.tracks.find((t) => t.kind === 'audio');
    if (!video || !audio || !vTrack || !aTrack) throw new Error('publisher needs one video and one audio target');
    const cmd = ffmpeg().setFfmpegPath(this.ffmpegPath);
    if (this.source.kind === 'synthetic') {
      cmd.input(this.source.clip).inputOptions(['-re', '-stream_loop', '-1']);
      cmd.output(rtpUrl(video, vTrack)).outputOptions(['-map', '0:v:0', '-c:v', 'copy']);
    } else {
      const s = this.source;
      const dev = deviceInput(s);
      for (const i of dev.inputs) cmd.input(i.url).inputOptions(i.options);
      cmd.output(rtpUrl(video, vTrack)).outputOptions([
        '-map', dev.videoMap,
        // No ASCII space in the option: fluent-ffmpeg splits an option with one space into two arguments
        // (the date and the time are parted by a no-break space).
        '-vf', "drawtext=fontcolor=white:box=1:boxcolor=black@0.5:x=w-tw-10:y=10:text='%{localtime\\:%Y-%m-%d}\u00a0%{localtime\\:%H\\\\\\:%M\\\\\\:%S}'",
        '-c:v', 'libvpx', '-b:v', '1000k', '-g', String(keyFrameInterval(s.fps)), '-keyint_min', String(keyFrameInterval(s.fps)), '-deadline', 'realtime', '-cpu-used', '8', '-threads', '1', '-auto-alt-ref', '0', '-error-resilient', '1',
      ]);
    }
    cmd.outputOptions(['-payload_type', String(vTrack.payloadType), '-ssrc', String(vTrack.ssrc), ...srtpOptions(vTrack), '-f', 'rtp']);
    const audioInput = this.source.kind === 'synthetic' ? '0:a:0' : deviceInput(this.source).audioMap;
    cmd.output(rtpUrl(audio, aTrack)).outputOptions([
      '-map', audioInput,
      ...(this.source.kind === 'synthetic' ? ['-c:a', 'copy'] : ['-c:a', 'libopus', '-b:a', '48k', '-ac', '2', '-ar', '48000']),
      '-payload_type', String(aTrack.payloadType), '-ssrc', String(aTrack.ssrc), ...srtpOptions(aTrack), '-f', 'rtp',
    ]);
    if (this.source.kind === 'devices' && this.tap) {
      // The evidence compositor's copy of the capture, on stdout (never blocks: see CaptureTap).
      const dev = deviceInput(this.source);
      cmd.output(this.tap.input(), { end: false }).outputOptions(captureTapOutputArgs(dev.videoMap, dev.audioMap));
    }
    cmd.addOption('-loglevel', 'error');
    cmd.on('stderr', (line: string) => {
      this.stderrTail = (this.stderrTail + line + '\n').slice(-2000);
    });
    let pid: number | undefined;
    cmd.on('start', () => {
      pid = (cmd as unknown as { ffmpegProc?: { pid?: number } }).ffmpegProc?.pid;
      this.pidValue = pid;
      this.children?.add(pid);
    });
    const finished = (code: number | null) => {
      this.children?.remove(pid);
      if (this.command !== cmd) return;
      this.command = null;
      if (!this.stopped) this.events.onExit(code, this.stderrTail.trim());
    };
    cmd.on('error', (err: Error) => finished(/code (\d+)/.exec(err.message)?.[1] ? Number(/code (\d+)/.exec(err.message)?.[1]) : null));
    cmd.on('end', () => finished(0));
    this.stopped = false;
    this.command = cmd;
    cmd.run();
  }

  stop(): void {
    this.stopped = true;
    const cmd = this.command;
    this.command = null;
    cmd?.kill('SIGKILL');
  }
}
