// What the evidence clerk may do now with one booking's evidence, and why not
// where not: build its disc set, and per disc verify, burn the master or the
// working copy, seal the master, hand a copy over, print the case label. The
// clerk page shows exactly these (buttons enabled or disabled with the reason)
// and never works the rules out itself. Pure: the facts come in, the answer goes
// out; no imports but TypeBox, so the web imports the reply's type.
import Type, { type Static } from 'typebox';

/** Why an action is not open now: typed values, translated by the page. */
export const ActionBlock = Type.Union([
  Type.Literal('recording_not_finished'),
  Type.Literal('build_running'),
  Type.Literal('image_missing'),
  Type.Literal('no_drive'),
  Type.Literal('master_not_burned'),
  Type.Literal('sealed'),
  Type.Literal('image_stale'),
]);
export type ActionBlock = Static<typeof ActionBlock>;

export const ActionState = Type.Object({
  allowed: Type.Boolean(),
  /** Null when allowed. */
  blockedBy: Type.Union([ActionBlock, Type.Null()]),
});
export type ActionState = Static<typeof ActionState>;

export const DiscActions = Type.Object({
  discNo: Type.Integer(),
  verify: ActionState,
  burnMaster: ActionState,
  burnWorking: ActionState,
  seal: ActionState,
  handOver: ActionState,
  label: ActionState,
});
export type DiscActions = Static<typeof DiscActions>;

export const EvidenceActions = Type.Object({
  bookingId: Type.String(),
  build: ActionState,
  /** Names of the configured drives that are attached now (burn goes to one of them). */
  drivesAttached: Type.Array(Type.String()),
  discs: Type.Array(DiscActions),
});
export type EvidenceActions = Static<typeof EvidenceActions>;

export interface ActionFacts {
  bookingId: string;
  recordingFinished: boolean;
  /** Jobs of this booking still queued or running. */
  activeJobs: ReadonlyArray<{ kind: 'build' | 'burn' | 'verify' }>;
  discs: ReadonlyArray<{ discNo: number; sha256: string; fileExists: boolean }>;
  events: ReadonlyArray<{ kind: string; discNo: number | null; copy: 'master' | 'working' | null; imageSha256: string | null }>;
  drives: ReadonlyArray<{ name: string; attached: boolean }>;
  /** A segment arrived after the images were built: they lack it and are built again before burning. */
  imagesStale: boolean;
}

const open: ActionState = { allowed: true, blockedBy: null };
const blocked = (blockedBy: ActionBlock): ActionState => ({ allowed: false, blockedBy });

export function evidenceActions(f: ActionFacts): EvidenceActions {
  const building = f.activeJobs.some((j) => j.kind === 'build');
  const drivesAttached = f.drives.filter((d) => d.attached).map((d) => d.name);
  const build = !f.recordingFinished ? blocked('recording_not_finished') : building ? blocked('build_running') : open;
  const discs = f.discs.map((d): DiscActions => {
    const mine = f.events.filter((e) => e.discNo === d.discNo && e.imageSha256 === d.sha256);
    const masterBurned = mine.some((e) => e.kind === 'burned' && e.copy === 'master');
    const sealed = mine.some((e) => e.kind === 'sealed');
    // While the set is being rebuilt its images are about to change: nothing else starts.
    const usable = building ? blocked('build_running') : !d.fileExists ? blocked('image_missing') : null;
    // A stale image may be checked and labelled, not burned, sealed or handed over (a sealed one stays what it was).
    const current = usable ?? (f.imagesStale && !sealed ? blocked('image_stale') : null);
    // Other jobs may be running: the service queues this one behind them.
    const burn = current ?? (drivesAttached.length === 0 ? blocked('no_drive') : open);
    const burnMaster = current ?? (sealed ? blocked('sealed') : burn);
    return {
      discNo: d.discNo,
      verify: usable ?? open,
      burnMaster,
      burnWorking: burn,
      seal: current ?? (sealed ? blocked('sealed') : !masterBurned ? blocked('master_not_burned') : open),
      handOver: current ?? open,
      label: usable ?? open,
    };
  });
  return { bookingId: f.bookingId, build, drivesAttached, discs };
}
