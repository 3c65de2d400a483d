// The mediasoup worker pool: one worker per core by default. Routers go to the
// least-loaded worker. A worker that dies is replaced; its routers are gone, so
// the sessions that lived there close themselves when their routers go.
import os from 'node:os';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from '../logger.js';

export interface WorkerPoolOptions {
  workers: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  disableLiburing: boolean;
  logLevel?: types.WorkerLogLevel;
}

interface Slot {
  worker: types.Worker;
  routers: number;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private closed = false;

  private constructor(private readonly options: WorkerPoolOptions, private readonly log: Logger) {}

  static async create(options: WorkerPoolOptions, log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(options, log);
    const count = options.workers > 0 ? options.workers : Math.max(1, os.cpus().length);
    for (let i = 0; i < count; i++) pool.slots.push({ worker: await pool.spawn(i, count), routers: 0 });
    log.info({ workers: count, bin: mediasoup.workerBin }, 'mediasoup workers started');
    return pool;
  }

  private async spawn(index: number, count: number): Promise<types.Worker> {
    // Each worker gets its own slice of the RTC port range.
    const span = Math.floor((this.options.rtcMaxPort - this.options.rtcMinPort + 1) / count);
    const rtcMinPort = this.options.rtcMinPort + index * span;
    const worker = await mediasoup.createWorker({
      logLevel: this.options.logLevel ?? 'warn',
      rtcMinPort,
      rtcMaxPort: rtcMinPort + span - 1,
      disableLiburing: this.options.disableLiburing,
    });
    worker.on('died', (error) => {
      if (this.closed) return;
      // Its routers close with it, and each session closes itself ('media worker died').
      this.log.error({ pid: worker.pid, err: error }, 'mediasoup worker died; replacing it');
      void this.spawn(index, count).then(
        (replacement) => {
          if (this.closed) {
            replacement.close();
            return;
          }
          const slot = this.slots[index];
          if (slot) {
            slot.worker = replacement;
            slot.routers = 0;
          }
        },
        (err: unknown) => this.log.fatal({ err }, 'cannot replace mediasoup worker')
      );
    });
    return worker;
  }

  async createRouter(mediaCodecs: types.RtpCodecCapability[], appData: Record<string, unknown>): Promise<types.Router> {
    const slot = [...this.slots].filter((s) => !s.worker.closed).sort((a, b) => a.routers - b.routers)[0];
    if (!slot) throw new Error('no mediasoup worker available');
    const router = await slot.worker.createRouter({ mediaCodecs, appData });
    slot.routers++;
    router.observer.once('close', () => {
      slot.routers = Math.max(0, slot.routers - 1);
    });
    return router;
  }

  pids(): number[] {
    return this.slots.map((s) => s.worker.pid);
  }

  async usage(): Promise<Array<{ pid: number; routers: number; ruUtime: number; ruStime: number; ruMaxrss: number }>> {
    return Promise.all(
      this.slots.map(async (s) => {
        const u = await s.worker.getResourceUsage();
        return { pid: s.worker.pid, routers: s.routers, ruUtime: u.ru_utime, ruStime: u.ru_stime, ruMaxrss: u.ru_maxrss };
      })
    );
  }

  close(): void {
    this.closed = true;
    for (const s of this.slots) s.worker.close();
  }
}

export const mediaCodecs: types.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 },
  {
    kind: 'video',
    mimeType: 'video/VP8',
    clockRate: 90000,
    preferredPayloadType: 101,
    parameters: { 'x-google-start-bitrate': 800 },
  },
];
