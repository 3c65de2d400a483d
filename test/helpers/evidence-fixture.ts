// A booking's evidence made of real media files generated with ffmpeg: an
// H.264/AAC evidence video (MP4) and VP8/Opus per-track originals (WebM), with
// the facts a collector would gather. For testing the disc layer on its own.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BundleFile, EvidenceBundle } from '../../recordings/disc/bundle.js';

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeEvidenceVideo(file: string, seconds: number, size = '720x576'): void {
  ffmpeg([
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=1000:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '50', '-c:a', 'aac', '-b:a', '64k', '-movflags', '+faststart', file,
  ]);
}

export function makeOriginal(file: string, kind: 'video' | 'audio', seconds: number, seed: number): void {
  if (kind === 'video') {
    ffmpeg(['-f', 'lavfi', '-i', `testsrc=size=320x240:rate=15:duration=${seconds}`, '-vf', `hue=h=${seed * 40}`, '-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '300k', file]);
  } else {
    ffmpeg(['-f', 'lavfi', '-i', `sine=frequency=${300 + seed * 100}:sample_rate=48000:duration=${seconds}`, '-c:a', 'libopus', '-b:a', '32k', file]);
  }
}

function fileEntry(dir: string, discPath: string, source: BundleFile['source'], track: string, startedAt: string, endedAt: string, container: string, codec: string): BundleFile {
  const sourcePath = path.join(dir, discPath);
  return { discPath, sourcePath, source, track, startedAt, endedAt, bytes: statSync(sourcePath).size, sha256: sha256File(sourcePath), container, codec };
}

/**
 * Generates the files under `dir` and returns the bundle. `segments` originals
 * per track (room video and audio, prosecutor audio, lawyer audio), each
 * `seconds` long.
 */
export function makeEvidenceBundle(dir: string, opts: { seconds?: number; segments?: number } = {}): EvidenceBundle {
  const seconds = opts.seconds ?? 3;
  const segments = opts.segments ?? 1;
  const start = Date.parse('2026-12-01T01:30:00.000Z');
  const iso = (s: number) => new Date(start + s * 1000).toISOString();
  mkdirSync(path.join(dir, 'evidence'), { recursive: true });
  makeEvidenceVideo(path.join(dir, 'evidence', 'evidence.mp4'), seconds * segments);
  const files: BundleFile[] = [fileEntry(dir, 'evidence/evidence.mp4', 'evidence', 'evidence', iso(0), iso(seconds * segments), 'mp4', 'h264+aac')];
  const tracks: Array<[string, 'video' | 'audio']> = [['room.video', 'video'], ['room.audio', 'audio'], ['prosecutor.audio', 'audio'], ['lawyer.audio', 'audio']];
  let seq = 1;
  for (let s = 0; s < segments; s++) {
    tracks.forEach(([track, kind], i) => {
      const rel = `originals/${track}/${String(seq).padStart(4, '0')}.webm`;
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      makeOriginal(path.join(dir, rel), kind, seconds, i + s);
      files.push(fileEntry(dir, rel, 'original', track, iso(s * seconds), iso((s + 1) * seconds), 'webm', kind === 'video' ? 'vp8' : 'opus'));
      seq++;
    });
  }
  return {
    bookingId: 'b-20261201-0930-plea-1',
    caseNumber: '京朝检刑诉〔2026〕123号',
    siteName: '某区人民检察院 · 看守所远程提讯点',
    room: { id: 'plea-1', name: '认罪认罚工作室一', nameEn: 'Plea workroom 1', kind: 'plea' },
    sessionKind: 'plea_hearing',
    priorityClass: 'district',
    procuratorateId: '某区人民检察院',
    detaineeId: '张某（在押人员编号 D-0042）',
    prosecutorId: '李检察官',
    lawyer: { role: 'duty', id: '王律师' },
    scheduled: { date: '2026-12-01', start: '09:30', end: '09:42', timeZone: 'Asia/Shanghai' },
    recording: { startedAt: iso(0), endedAt: iso(seconds * segments), sessionClockOrigin: iso(0) },
    parties: [
      { role: 'room', who: '张某（在押人员编号 D-0042）', displayName: '认罪认罚工作室一', attendance: [{ joinedAt: iso(0), leftAt: iso(seconds * segments), leaveReason: null }] },
      { role: 'prosecutor', who: '李检察官', displayName: '李检察官', attendance: [{ joinedAt: iso(0), leftAt: iso(seconds * segments), leaveReason: null }] },
      { role: 'lawyer', who: '王律师', displayName: '王律师（值班）', attendance: [{ joinedAt: iso(0), leftAt: iso(1), leaveReason: '网络中断' }, { joinedAt: iso(2), leftAt: iso(seconds * segments), leaveReason: null }] },
    ],
    statusHistory: [
      { at: iso(-300), status: 'escorting', actor: 'staff:zhao' },
      { at: iso(-60), status: 'in_room', actor: 'staff:zhao' },
      { at: iso(0), status: 'in_session', actor: 'system' },
      { at: iso(seconds * segments + 30), status: 'finished', actor: 'staff:zhao' },
    ],
    gaps: [
      {
        source: 'original', track: 'lawyer.audio', startedAt: iso(1), endedAt: iso(2), cause: 'party_absent',
        causeText: { zh: '该方不在场或未发送音视频', en: 'party not present or not sending media' }, coveredBy: 'evidence',
      },
    ],
    files,
    segmentChain: { head: 'ab'.repeat(32), intact: true },
  };
}
