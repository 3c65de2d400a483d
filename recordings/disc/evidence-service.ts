// The evidence clerk's work on finished bookings: build a booking's disc set,
// verify an image, burn it (master and working copy), seal and hand over,
// each step a custody event in the same transaction as its record. Long steps
// run as jobs with progress; at most one build or burn runs at a time, since
// the machine also records the rooms that are still live.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import type { Config } from '../../server/config.js';
import type { Db } from '../../server/db/database.js';
import type { AuditTrail } from '../../server/audit/audit-trail.js';
import { DomainError } from '../../server/errors.js';
import type { ScheduleStore } from '../../server/schedule/schedule-store.js';
import type { RecordingStore, RecordingState } from '../recording-store.js';
import { burnImage, checkDrive, NoDriveError, type BurnResult } from './burn.js';
import { collectBundle } from './collector.js';
import { CustodyStore, type CustodyEvent, type DiscCopy, type DiscImageRow } from './custody.js';
import { buildDiscSet, type BuiltDisc } from './disc-set.js';
import { EvidenceKey } from './evidence-key.js';
import { verifyDisc, type VerifyReport } from './verify.js';
import { renderLabelHtml } from './label.js';
import { evidenceActions, type ActionState, type EvidenceActions } from './clerk-actions.js';

export type EvidenceState = RecordingState | 'rendering' | 'ready' | 'burned' | 'sealed';
export type JobKind = 'build' | 'burn' | 'verify';

export interface EvidenceJob {
  id: string;
  kind: JobKind;
  bookingId: string;
  state: 'queued' | 'running' | 'done' | 'failed';
  step: string;
  /** 0..1 */
  fraction: number;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
  result: unknown;
}

export interface EvidenceServiceEvents {
  job: [EvidenceJob];
}

export interface EvidenceDeps {
  db: Db;
  audit: AuditTrail;
  config: Config;
  recordings: RecordingStore;
  schedule: ScheduleStore;
  evidenceKeyPem: string;
  ffmpegPath: string;
}

export interface EvidenceSummary {
  bookingId: string;
  caseNumber: string | null;
  roomId: string;
  startedAt: string;
  endedAt: string | null;
  recordingState: RecordingState;
  state: EvidenceState;
  gaps: number;
  interruptions: number;
  bytes: number;
  discs: DiscImageRow[];
}

export class EvidenceService extends EventEmitter<EvidenceServiceEvents> {
  readonly custody: CustodyStore;
  readonly key: EvidenceKey;
  private readonly jobs = new Map<string, EvidenceJob>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: EvidenceDeps) {
    super();
    this.custody = new CustodyStore(d.db, d.audit);
    this.key = new EvidenceKey(d.evidenceKeyPem);
  }

  get config(): Config['evidence'] {
    return this.d.config.evidence;
  }

  /** Drives named in config, and whether each is attached now. */
  drives(): Array<{ name: string; device: string; attached: boolean; problem: string | null }> {
    return Object.entries(this.config.drives).map(([name, device]) => {
      try {
        checkDrive(device);
        return { name, device, attached: true, problem: null };
      } catch (err) {
        return { name, device, attached: false, problem: (err as Error).message };
      }
    });
  }

  private running(bookingId: string, kind?: JobKind): EvidenceJob | undefined {
    for (const j of this.jobs.values()) if (j.bookingId === bookingId && (j.state === 'queued' || j.state === 'running') && (!kind || j.kind === kind)) return j;
    return undefined;
  }

  /**
   * What the clerk may do now with this booking's evidence (clerk-actions.ts
   * decides). The page shows this answer, and every action below is refused by
   * the same answer, so the rule lives in one place.
   */
  actions(bookingId: string): EvidenceActions {
    const rec = this.d.recordings.recording(bookingId);
    if (!rec) throw new DomainError(404, 'not_found', `no recording for booking ${bookingId}`);
    return evidenceActions({
      bookingId,
      recordingFinished: rec.status === 'finished',
      activeJobs: this.jobsOf(bookingId).filter((j) => j.state === 'queued' || j.state === 'running'),
      discs: this.custody.discImages(bookingId).map((x) => ({ discNo: x.discNo, sha256: x.sha256, fileExists: existsSync(x.path) })),
      events: this.custody.events(bookingId),
      drives: this.drives(),
      imagesStale: this.imagesStale(bookingId),
    });
  }

  /**
   * Whether the booking's disc images lack a segment stored after they were
   * built: each build records the recording's hash-chain head it was built
   * from (image_built event), and the recording's head has moved on since.
   */
  imagesStale(bookingId: string): boolean {
    const discs = this.custody.discImages(bookingId);
    if (!discs.length) return false;
    const current = new Set(discs.map((x) => x.sha256));
    const built = this.custody.events(bookingId).filter((e) => e.kind === 'image_built' && e.imageSha256 !== null && current.has(e.imageSha256)).at(-1);
    const seq = built?.detail['chainSeq'];
    if (typeof seq !== 'number') return false; // built before images recorded their chain head
    return (this.d.recordings.segments(bookingId).at(-1)?.seq ?? 0) !== seq;
  }

  private allowed(bookingId: string, discNo: number, pick: (a: EvidenceActions['discs'][number]) => ActionState, what: string): void {
    const state = this.actions(bookingId).discs.find((x) => x.discNo === discNo);
    if (!state) throw new DomainError(404, 'not_found', `booking ${bookingId} has no disc image ${discNo}: build it first`);
    const rule = pick(state);
    if (!rule.allowed) throw new DomainError(409, rule.blockedBy ?? 'conflict', `${what} disc ${discNo} of booking ${bookingId} is not open now: ${rule.blockedBy ?? 'refused'}`);
  }

  stateOf(bookingId: string, recordingState: RecordingState): EvidenceState {
    if (this.running(bookingId, 'build')) return 'rendering';
    const discs = this.custody.discImages(bookingId);
    if (!discs.length) return recordingState;
    const sealedBefore = this.custody.events(bookingId).some((e) => e.kind === 'sealed');
    // Images that lack a late segment are to be built again: the booking shows as not yet built.
    if (!sealedBefore && this.imagesStale(bookingId)) return recordingState;
    const events = this.custody.events(bookingId);
    const current = new Set(discs.map((x) => x.sha256));
    const done = (kind: CustodyEvent['kind'], copy: DiscCopy) =>
      discs.every((disc) => events.some((e) => e.kind === kind && e.copy === copy && e.discNo === disc.discNo && e.imageSha256 !== null && current.has(e.imageSha256)));
    if (done('sealed', 'master')) return 'sealed';
    if (done('burned', 'master') && done('burned', 'working')) return 'burned';
    return 'ready';
  }

  list(limit = 200): EvidenceSummary[] {
    return this.d.recordings.list({ limit }).map((r) => ({
      bookingId: r.bookingId, caseNumber: this.d.schedule.row(r.bookingId)?.case_number ?? null, roomId: r.roomId, startedAt: r.startedAt,
      endedAt: r.endedAt, recordingState: r.state, state: this.stateOf(r.bookingId, r.state), gaps: r.gaps, interruptions: r.interruptions,
      bytes: r.bytes, discs: this.custody.discImages(r.bookingId),
    }));
  }

  summary(bookingId: string): EvidenceSummary {
    const s = this.list(5000).find((x) => x.bookingId === bookingId);
    if (!s) throw new DomainError(404, 'not_found', `no recording for booking ${bookingId}`);
    return s;
  }

  job(id: string): EvidenceJob | undefined {
    return this.jobs.get(id);
  }

  jobsOf(bookingId: string): EvidenceJob[] {
    return [...this.jobs.values()].filter((j) => j.bookingId === bookingId);
  }

  private start<T>(kind: JobKind, bookingId: string, run: (progress: (step: string, fraction: number) => void) => Promise<T>): EvidenceJob {
    const job: EvidenceJob = {
      id: randomUUID(), kind, bookingId, state: 'queued', step: 'queued', fraction: 0, error: null, startedAt: new Date().toISOString(), finishedAt: null, result: null,
    };
    this.jobs.set(job.id, job);
    // Finished jobs are kept for a while for the page to read, then forgotten.
    if (this.jobs.size > 500) for (const [id, j] of this.jobs) if (j.finishedAt && this.jobs.size > 400) this.jobs.delete(id);
    this.emit('job', job);
    let lastEmit = 0;
    const progress = (step: string, fraction: number) => {
      // Every new step is told at once (a fast build still shows its steps), progress within a step at most 5 times a second.
      const newStep = step !== job.step;
      job.step = step;
      job.fraction = Math.max(0, Math.min(1, fraction));
      const now = Date.now();
      if (newStep || now - lastEmit > 200) { lastEmit = now; this.emit('job', job); }
    };
    const done = this.queue.then(async () => {
      job.state = 'running';
      this.emit('job', job);
      try {
        job.result = await run(progress);
        job.state = 'done';
        job.fraction = 1;
      } catch (err) {
        job.state = 'failed';
        job.error = (err as Error).message;
      }
      job.finishedAt = new Date().toISOString();
      this.emit('job', job);
    });
    this.queue = done;
    return job;
  }

  /** Waits for a job to finish (CLI, tests, bench). */
  async settle(job: EvidenceJob): Promise<EvidenceJob> {
    while (job.state === 'queued' || job.state === 'running') await new Promise((r) => setTimeout(r, 50));
    return job;
  }

  build(bookingId: string, actor: string, options: { medium?: string } = {}): EvidenceJob {
    const rec = this.d.recordings.recording(bookingId);
    if (!rec) throw new DomainError(404, 'not_found', `no recording for booking ${bookingId}`);
    if (rec.status !== 'finished') throw new DomainError(409, 'recording_not_finished', `the recording of booking ${bookingId} has not finished yet`);
    const mediumName = options.medium ?? this.config.medium;
    if (!Object.hasOwn(this.config.media, mediumName)) throw new DomainError(400, 'bad_request', `unknown medium ${mediumName} (have ${Object.keys(this.config.media).join(', ')})`);
    const existing = this.running(bookingId, 'build');
    if (existing) return existing;
    return this.start('build', bookingId, async (progress) => this.runBuild(bookingId, actor, mediumName, progress));
  }

  /** The build itself, for callers that await it (the CLI, the bench). */
  async runBuild(bookingId: string, actor: string, mediumName: string, progress: (step: string, fraction: number) => void = () => {}): Promise<BuiltDisc[]> {
    const medium = { name: mediumName, bytes: this.config.media[mediumName] as number };
    progress('collecting', 0);
    // The chain head the images are built from: a segment stored after this makes them stale.
    const head = this.d.recordings.segments(bookingId).at(-1);
    const work = path.join(this.config.outDir, 'work');
    const bundle = await collectBundle({ ...this.d }, bookingId, work);
    const discs = await buildDiscSet(bundle, {
      outDir: path.join(this.config.outDir, bookingId), medium, reserveBytes: this.config.discReserveBytes, key: this.key,
      chromiumPath: this.config.chromiumPath, noteStoreDir: path.join(work, bookingId, 'notes'),
      onProgress: (p) => progress(p.step === 'note' ? 'note' : `image ${p.disc}/${p.discCount}`, 0.05 + 0.95 * p.fraction),
    });
    this.custody.imagesBuilt(
      bookingId,
      discs.map((x) => ({ discNo: x.number, discCount: x.count, medium: medium.name, path: x.imagePath, bytes: x.bytes, sha256: x.sha256, manifestSha256: x.manifestSha256 })),
      actor,
      { files: bundle.files.length, gaps: bundle.gaps.length, keyFingerprint: this.key.fingerprint, chainSeq: head?.seq ?? 0, chainHash: head?.chainHash ?? null }
    );
    return discs;
  }

  private disc(bookingId: string, discNo: number): DiscImageRow {
    const disc = this.custody.discImages(bookingId).find((x) => x.discNo === discNo);
    if (!disc) throw new DomainError(404, 'not_found', `booking ${bookingId} has no disc image ${discNo}: build it first`);
    if (!existsSync(disc.path)) throw new DomainError(409, 'image_missing', `the image file ${disc.path} is gone: build it again`);
    return disc;
  }

  verify(bookingId: string, discNo: number, actor: string): EvidenceJob {
    const disc = this.disc(bookingId, discNo);
    this.allowed(bookingId, discNo, (a) => a.verify, 'verifying');
    return this.start('verify', bookingId, async (progress) => {
      const report = await verifyDisc(disc.path, { trustedFingerprint: this.key.fingerprint, onProgress: (read) => progress('verifying', read / Math.max(1, disc.bytes)) });
      this.recordVerify(bookingId, disc, null, report, actor, null);
      return report;
    });
  }

  private recordVerify(bookingId: string, disc: DiscImageRow, copy: DiscCopy | null, r: VerifyReport, actor: string, device: string | null): void {
    this.custody.append({
      bookingId, kind: r.ok ? 'verified' : 'verify_failed', discNo: disc.discNo, copy, imageSha256: disc.sha256, actor, handedTo: null,
      detail: { source: device ?? 'image', problems: r.problems.slice(0, 20), files: r.files.length, signature: r.signature, keyTrusted: r.keyTrusted },
    });
  }

  /** Burns one disc of the set as the master or the working copy on a configured drive, then reads it back and verifies it. */
  burn(bookingId: string, input: { discNo: number; copy: DiscCopy; drive: string }, actor: string): EvidenceJob {
    const disc = this.disc(bookingId, input.discNo);
    this.allowed(bookingId, input.discNo, (a) => (input.copy === 'master' ? a.burnMaster : a.burnWorking), `burning the ${input.copy} of`);
    if (!Object.hasOwn(this.config.drives, input.drive)) {
      throw new DomainError(409, 'no_drive', Object.keys(this.config.drives).length ? `no drive named ${input.drive} (have ${Object.keys(this.config.drives).join(', ')})` : 'no burner drive is configured (evidence.drives)');
    }
    const device = this.config.drives[input.drive] as string;
    try {
      checkDrive(device);
    } catch (err) {
      if (err instanceof NoDriveError) throw new DomainError(409, 'no_drive', `drive ${input.drive}: ${err.message}`);
      throw err;
    }
    return this.start('burn', bookingId, async (progress) => {
      const r: BurnResult = await burnImage({ image: disc.path, device, trustedFingerprint: this.key.fingerprint, onProgress: (p) => progress(p.step, p.fraction) }, disc.sha256);
      const ok = r.identical && r.verify.ok;
      this.d.db.transaction(() => {
        if (ok) {
          this.custody.append({
            bookingId, kind: 'burned', discNo: disc.discNo, copy: input.copy, imageSha256: disc.sha256, actor, handedTo: null,
            detail: { drive: input.drive, device, readBackSha256: r.readBackSha256 },
          });
        }
        this.recordVerify(bookingId, disc, input.copy, r.verify, actor, device);
      })();
      if (!r.identical) throw new Error(`the disc read back from ${input.drive} differs from the image (${r.readBackSha256} ≠ ${disc.sha256})`);
      if (!r.verify.ok) throw new Error(`the disc in ${input.drive} does not verify: ${r.verify.problems.slice(0, 3).join('; ')}`);
      return { drive: input.drive, copy: input.copy, discNo: disc.discNo, readBackSha256: r.readBackSha256, verify: r.verify };
    });
  }

  seal(bookingId: string, input: { discNo: number; witness: string }, actor: string): CustodyEvent {
    const disc = this.disc(bookingId, input.discNo);
    // Refused unless the master was burned and verified from the current image, and not sealed already.
    this.allowed(bookingId, input.discNo, (a) => a.seal, 'sealing');
    return this.custody.append({ bookingId, kind: 'sealed', discNo: disc.discNo, copy: 'master', imageSha256: disc.sha256, actor, handedTo: input.witness, detail: {} });
  }

  handOver(bookingId: string, input: { discNo: number; copy: DiscCopy; to: string; note?: string }, actor: string): CustodyEvent {
    const disc = this.disc(bookingId, input.discNo);
    this.allowed(bookingId, input.discNo, (a) => a.handOver, 'handing over');
    return this.custody.append({
      bookingId, kind: 'handed_over', discNo: disc.discNo, copy: input.copy, imageSha256: disc.sha256, actor, handedTo: input.to, detail: input.note ? { note: input.note } : {},
    });
  }

  custodyOf(bookingId: string): { events: CustodyEvent[]; intact: boolean; problems: string[] } {
    const problems = this.custody.verify();
    return { events: this.custody.events(bookingId), intact: problems.length === 0, problems };
  }

  label(bookingId: string, discNo: number, copy: DiscCopy): string {
    const disc = this.disc(bookingId, discNo);
    const b = this.d.schedule.row(bookingId);
    const room = this.d.config.site.rooms.find((r) => r.id === b?.room_id);
    return renderLabelHtml({
      caseNumber: b?.case_number ?? '', bookingId, roomName: room?.name ?? b?.room_id ?? '', date: b?.date ?? '', disc, copy,
      fingerprint: this.key.fingerprint, siteName: this.d.config.site.name,
    });
  }

  /** The joined evidence video, for the clerk page's preview. */
  evidenceVideo(bookingId: string): string | null {
    const file = path.join(this.config.outDir, 'work', bookingId, 'evidence.mp4');
    return existsSync(file) ? file : null;
  }
}
