// What one booking's disc set is made of: the facts the note and the manifest
// state, and the recorded files with their hashes. The collector builds it from
// the recording store, the schedule and the session store; the disc builder
// never reads those stores itself, so the disc layer can be tested on files
// made with ffmpeg alone.

export type BundleSource = 'original' | 'evidence';

export interface BundlePartyAttendance {
  joinedAt: string;
  leftAt: string | null;
  /** Typed leave reason as stored (e.g. 'left', 'kicked'), with its wording. */
  leaveReason: string | null;
}

export interface BundleParty {
  /** 'room' (the detainee's room), 'prosecutor', 'lawyer', 'guest'. */
  role: 'room' | 'prosecutor' | 'lawyer' | 'guest';
  /** Who they were: the person's id in the schedule (detainee, prosecutor, lawyer) or the guest's name. */
  who: string;
  /** The name shown in the session. */
  displayName: string;
  attendance: BundlePartyAttendance[];
}

export interface BundleStatusChange {
  at: string;
  /** The live status reached: 'escorting', 'in_room', 'in_session', 'finished', ... */
  status: string;
  actor: string;
}

export interface BundleGap {
  source: BundleSource;
  /** null: every track of that source. */
  track: string | null;
  startedAt: string;
  endedAt: string | null;
  /** The typed cause value (recordings/gap-cause.ts) and its wording. */
  cause: string;
  causeText: { zh: string; en: string };
  /** Which record covers this gap: the other source, or none when both were interrupted then. */
  coveredBy: BundleSource | 'none';
}

export interface BundleFile {
  /** Path on the disc, '/'-separated, relative (e.g. 'evidence/evidence.mp4'). */
  discPath: string;
  /** Absolute path of the file to put there. */
  sourcePath: string;
  source: BundleSource;
  track: string;
  startedAt: string;
  endedAt: string;
  bytes: number;
  sha256: string;
  container: string;
  codec: string;
  /** For the joined evidence video: the segments it was made of (seq, sha256). */
  joinedFrom?: Array<{ seq: number; sha256: string; bytes: number }>;
}

export interface EvidenceBundle {
  bookingId: string;
  caseNumber: string;
  siteName: string;
  room: { id: string; name: string; nameEn: string; kind: 'interrogation' | 'plea' };
  sessionKind: 'arraignment' | 'plea_hearing' | 'bail_hearing';
  priorityClass: 'district' | 'higher' | 'sibling';
  procuratorateId: string;
  detaineeId: string;
  prosecutorId: string;
  lawyer: { role: 'duty' | 'defence'; id: string };
  /** Scheduled slot, local date and HH:MM in the site's time zone. */
  scheduled: { date: string; start: string; end: string; timeZone: string };
  recording: { startedAt: string; endedAt: string; sessionClockOrigin: string };
  parties: BundleParty[];
  /** The live status history: escort out, in room, in session, finished. */
  statusHistory: BundleStatusChange[];
  gaps: BundleGap[];
  files: BundleFile[];
  /** The recording's segment hash chain: its head and whether the store found it intact. */
  segmentChain: { head: string; intact: boolean };
}
