// The evidence clerk's command line on the server:
//   npm run evidence -- list
//   npm run evidence -- build <bookingId> [--medium cd|dvd|bd]
//   npm run evidence -- verify <image file or device> [--booking <bookingId>]
//   npm run evidence -- burn <bookingId> --drive <name> [--copy master|working|both] [--disc <n>] [--drive2 <name>]
//   npm run evidence -- custody <bookingId>
//   npm run evidence -- seal <bookingId> --disc <n> --witness <name>
//   npm run evidence -- hand-over <bookingId> --disc <n> --copy master|working --to <name>
// Works on the server's data directory beside a running server (SQLite WAL).
// Exit status 0 when the step succeeded (verify: the disc is intact), 1 when not, 2 on bad usage.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../server/config.js';
import { openDatabase } from '../server/db/database.js';
import { AuditTrail } from '../server/audit/audit-trail.js';
import { auditKeysOf, loadSecrets } from '../server/access/secrets.js';
import { ScheduleStore } from '../server/schedule/schedule-store.js';
import { RecordingStore } from '../recordings/recording-store.js';
import { EvidenceService, type EvidenceJob } from '../recordings/disc/evidence-service.js';
import { verifyDisc } from '../recordings/disc/verify.js';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import { DomainError } from '../server/errors.js';
import type { DiscCopy } from '../recordings/disc/custody.js';

const usage = `usage: npm run evidence -- <list|build|verify|burn|custody|seal|hand-over> ...
  list
  build <bookingId> [--medium cd|dvd|bd]
  verify <image file or device> [--booking <bookingId>]
  burn <bookingId> --drive <name> [--copy master|working|both] [--disc <n>] [--drive2 <name>]
  custody <bookingId>
  seal <bookingId> --disc <n> --witness <name>
  hand-over <bookingId> --disc <n> --copy master|working --to <name>`;

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    medium: { type: 'string' }, booking: { type: 'string' }, drive: { type: 'string' }, drive2: { type: 'string' }, copy: { type: 'string' },
    disc: { type: 'string' }, witness: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' },
  },
});
const [command, arg] = positionals;
const actor = `cli:${os.userInfo().username}`;

function bar(label: string, fraction: number): void {
  if (!process.stderr.isTTY) return;
  const n = Math.round(fraction * 30);
  process.stderr.write(`\r[${'#'.repeat(n)}${' '.repeat(30 - n)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${label.padEnd(24)}`);
}
let lastLine = '';
function progressLine(label: string, fraction: number): void {
  bar(label, fraction);
  const line = `${label} ${Math.floor(fraction * 10) * 10}%`;
  if (!process.stderr.isTTY && line !== lastLine) { lastLine = line; process.stderr.write(`${line}\n`); }
}

async function follow(service: EvidenceService, job: EvidenceJob): Promise<EvidenceJob> {
  const onJob = (j: EvidenceJob) => { if (j.id === job.id) progressLine(j.step, j.fraction); };
  service.on('job', onJob);
  await service.settle(job);
  service.off('job', onJob);
  if (process.stderr.isTTY) process.stderr.write('\n');
  return job;
}

function discNo(): number {
  const n = Number(opt.disc ?? '1');
  if (!Number.isInteger(n) || n < 1) throw new DomainError(400, 'bad_request', '--disc must be a disc number (1, 2, ...)');
  return n;
}

async function main(): Promise<number> {
  if (!command || command === 'help' || command === '--help') {
    console.log(usage);
    return command ? 0 : 2;
  }
  const config = loadConfig();
  const db = openDatabase(path.join(config.dataDir, 'plea.sqlite'));
  const secrets = loadSecrets(config);
  // The server's audit key: entries this tool writes continue the server's chain.
  const audit = new AuditTrail(db, { keys: auditKeysOf(secrets), headFile: path.join(config.dataDir, 'audit-heads.jsonl') });
  const service = new EvidenceService({
    db, audit, config, recordings: new RecordingStore(db, audit), schedule: new ScheduleStore(db, audit, config),
    evidenceKeyPem: secrets.evidenceKeyPem, ffmpegPath: findFfmpeg(config.ffmpegPath).path,
  });
  try {
    switch (command) {
      case 'list': {
        const rows = service.list();
        if (opt.json) console.log(JSON.stringify(rows));
        else {
          if (!rows.length) console.log('no recordings');
          for (const r of rows) console.log(`${r.bookingId}\t${r.caseNumber ?? ''}\t${r.roomId}\t${r.startedAt}\t${r.state}\t${r.gaps} gaps\t${(r.bytes / 2 ** 20).toFixed(1)} MiB\t${r.discs.length} disc(s)`);
          const drives = service.drives();
          console.log(drives.length ? drives.map((d) => `drive ${d.name} (${d.device}): ${d.attached ? 'attached' : d.problem}`).join('\n') : 'no burner drive is configured (evidence.drives)');
        }
        return 0;
      }
      case 'build': {
        if (!arg) throw new DomainError(400, 'bad_request', usage);
        const job = await follow(service, service.build(arg, actor, opt.medium ? { medium: opt.medium } : {}));
        if (job.state === 'failed') { console.error(`build failed: ${job.error}`); return 1; }
        for (const d of service.custody.discImages(arg)) console.log(`disc ${d.discNo}/${d.discCount}\t${d.path}\t${d.bytes} bytes\tsha256 ${d.sha256}`);
        return 0;
      }
      case 'verify': {
        let source = arg;
        if (!source && opt.booking) source = service.custody.discImages(opt.booking).find((d) => d.discNo === discNo())?.path;
        if (!source) throw new DomainError(400, 'bad_request', usage);
        const report = await verifyDisc(source, { trustedFingerprint: service.key.fingerprint, onProgress: (read, total) => progressLine('verifying', total ? read / total : 0) });
        if (process.stderr.isTTY) process.stderr.write('\n');
        if (opt.json) console.log(JSON.stringify(report));
        else {
          console.log(`${source}: booking ${report.bookingId ?? '?'} (${report.caseNumber ?? '?'}), disc ${report.disc?.number ?? '?'}/${report.disc?.count ?? '?'}`);
          console.log(`signature: ${report.signature}; key ${report.keyFingerprint ?? '(none)'}${report.keyTrusted === true ? ' (this site’s evidence key)' : report.keyTrusted === false ? ' (NOT this site’s key)' : ''}`);
          for (const f of report.files) if (f.status !== 'ok') console.log(`FAIL ${f.path}: ${f.status}`);
          console.log(`${report.files.filter((f) => f.status === 'ok').length} of ${report.files.length} files match`);
          for (const p of report.problems) console.log(`problem: ${p}`);
          console.log(report.ok ? 'VERIFIED: the disc is exactly what was signed' : 'NOT VERIFIED');
        }
        if (opt.booking) {
          const custody = service.custodyOf(opt.booking);
          console.log(custody.intact ? 'custody log: intact' : `custody log: ${custody.problems.join('; ')}`);
          if (!custody.intact) return 1;
        }
        return report.ok ? 0 : 1;
      }
      case 'burn': {
        if (!arg || !opt.drive) throw new DomainError(400, 'bad_request', usage);
        const copies: DiscCopy[] = opt.copy === 'both' || !opt.copy ? ['master', 'working'] : opt.copy === 'master' || opt.copy === 'working' ? [opt.copy] : [];
        if (!copies.length) throw new DomainError(400, 'bad_request', '--copy must be master, working or both');
        const discs = opt.disc ? [discNo()] : service.custody.discImages(arg).map((d) => d.discNo);
        if (!discs.length) throw new DomainError(404, 'not_found', `booking ${arg} has no disc images: build first`);
        for (const n of discs) {
          // Two drives: master and working copy at once; one drive: one after the other.
          const drives = copies.map((c, i) => (i === 1 && opt.drive2 ? opt.drive2 : (opt.drive as string)));
          const run = async (copy: DiscCopy, drive: string) => {
            const job = await follow(service, service.burn(arg, { discNo: n, copy, drive }, actor));
            if (job.state === 'failed') throw new Error(`disc ${n} ${copy} on ${drive}: ${job.error}`);
            console.log(`disc ${n} ${copy}: burned on ${drive}, read back identical and verified`);
          };
          if (opt.drive2 && copies.length === 2) await Promise.all(copies.map((c, i) => run(c, drives[i] as string)));
          else for (const [i, c] of copies.entries()) {
            if (i > 0 && process.stdin.isTTY) {
              process.stderr.write(`insert a blank disc for the ${c} copy into ${drives[i]} and press Enter `);
              await new Promise((r) => process.stdin.once('data', r));
            }
            await run(c, drives[i] as string);
          }
        }
        return 0;
      }
      case 'custody': {
        if (!arg) throw new DomainError(400, 'bad_request', usage);
        const c = service.custodyOf(arg);
        if (opt.json) console.log(JSON.stringify(c));
        else {
          for (const e of c.events) console.log(`${e.seq}\t${e.at}\t${e.kind}\tdisc ${e.discNo ?? '-'}\t${e.copy ?? '-'}\t${e.actor}${e.handedTo ? `\t→ ${e.handedTo}` : ''}`);
          console.log(c.intact ? 'custody log: intact' : `custody log: ${c.problems.join('; ')}`);
        }
        return c.intact ? 0 : 1;
      }
      case 'seal': {
        if (!arg || !opt.witness) throw new DomainError(400, 'bad_request', usage);
        const e = service.seal(arg, { discNo: discNo(), witness: opt.witness }, actor);
        console.log(`sealed: custody event ${e.seq}`);
        return 0;
      }
      case 'hand-over': {
        if (!arg || !opt.to || (opt.copy !== 'master' && opt.copy !== 'working')) throw new DomainError(400, 'bad_request', usage);
        const e = service.handOver(arg, { discNo: discNo(), copy: opt.copy, to: opt.to }, actor);
        console.log(`handed over: custody event ${e.seq}`);
        return 0;
      }
      default:
        console.error(usage);
        return 2;
    }
  } finally {
    db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof DomainError ? `${err.code}: ${err.message}` : (err as Error).message);
    process.exit(err instanceof DomainError && err.statusCode === 400 ? 2 : 1);
  }
);
