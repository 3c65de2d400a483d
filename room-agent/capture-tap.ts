// One capture for both: the publisher's ffmpeg, which alone opens the room's
// camera and microphone, writes a second copy of the room's picture and sound
// (intra-only MPEG-2 video and SMPTE 302M PCM, muxed together in MPEG-TS, so
// they stay in sync as captured) to its stdout; this tap reads it and hands it
// to the evidence compositor's encoder. The tap never pushes back on the
// publisher: it takes every byte at once, and while no encoder is attached or
// the attached one is behind (its pipe holds more than maxQueuedBytes) it drops
// whole 188-byte TS packets (the encoder's demuxer resyncs; with intra-only
// video only the frames hit are lost). So the live RTP path never stalls
// because the evidence encoder is slow, crashed or restarting.
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';

export const TS_PACKET = 188;

/** The publisher's extra output for the tap (its video and audio maps are the publisher's own inputs). */
export function captureTapOutputArgs(videoMap: string, audioMap: string): string[] {
  return [
    '-map', videoMap, '-map', audioMap,
    '-c:v', 'mpeg2video', '-g', '1', '-q:v', '3', '-pix_fmt', 'yuv420p',
    '-c:a', 's302m', '-strict', '-2', '-ar', '48000', '-ac', '2',
    // Small muxing delay and PES packets: the encoder sees each frame at once.
    '-muxdelay', '0', '-muxpreload', '0', '-flush_packets', '1',
    '-f', 'mpegts',
  ];
}

/** The compositor's input options for the tap's stream on its stdin. */
export const captureTapInputArgs = (): string[] => ['-f', 'mpegts', '-probesize', '1000000', '-analyzeduration', '500000', '-fflags', '+discardcorrupt', '-thread_queue_size', '512', '-i', 'pipe:0'];

export interface CaptureTapEvents {
  /** The publisher (re)started: a new stream (new timestamps) begins. */
  restarted: [];
}

export class CaptureTap extends EventEmitter<CaptureTapEvents> {
  private sink: Writable | null = null;
  private carry: Buffer = Buffer.alloc(0);
  bytesIn = 0;
  bytesForwarded = 0;
  /** Bytes dropped because no encoder was attached. */
  droppedDetached = 0;
  /** Bytes dropped because the attached encoder was behind. */
  droppedBehind = 0;
  lastDataAt = 0;

  constructor(private readonly maxQueuedBytes = 2 * 1024 * 1024) {
    super();
  }

  /** A fresh Writable for one publisher run: it never signals backpressure, and ending it ends nothing else. */
  input(): Writable {
    this.carry = Buffer.alloc(0);
    this.emit('restarted');
    return new Writable({
      highWaterMark: 1 << 20,
      write: (chunk: Buffer, _enc, cb) => {
        this.push(chunk);
        cb();
      },
    });
  }

  /** The encoder's stdin; the stream continues there at the next whole packet. */
  attach(sink: Writable): void {
    this.sink = sink;
    sink.on('error', () => {
      if (this.sink === sink) this.sink = null;
    });
  }

  detach(sink?: Writable): void {
    if (!sink || this.sink === sink) this.sink = null;
  }

  get attached(): boolean {
    return this.sink !== null;
  }

  private push(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.lastDataAt = Date.now();
    let data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const whole = data.length - (data.length % TS_PACKET);
    this.carry = Buffer.from(data.subarray(whole));
    data = data.subarray(0, whole);
    if (!data.length) return;
    const sink = this.sink;
    if (!sink || sink.destroyed || !sink.writable) {
      this.droppedDetached += data.length;
      return;
    }
    if (sink.writableLength > this.maxQueuedBytes) {
      this.droppedBehind += data.length;
      return;
    }
    // A copy: the chunk belongs to the publisher's pipe.
    sink.write(Buffer.from(data));
    this.bytesForwarded += data.length;
  }
}
