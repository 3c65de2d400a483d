// The rules of the clerk page's buttons, which the server owns: what may be done
// now with a booking's evidence, and the typed reason where not.
import { describe, expect, it } from 'vitest';
import { evidenceActions, type ActionFacts } from '../recordings/disc/clerk-actions.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const base: ActionFacts = {
  bookingId: 'b-1',
  recordingFinished: true,
  activeJobs: [],
  discs: [{ discNo: 1, sha256: A, fileExists: true }],
  events: [{ kind: 'image_built', discNo: 1, copy: null, imageSha256: A }],
  drives: [{ name: 'drive-a', attached: true }],
  imagesStale: false,
};
const facts = (over: Partial<ActionFacts>): ActionFacts => ({ ...base, ...over });

describe('evidence actions', () => {
  it('opens the build only for a finished recording with no build running', () => {
    expect(evidenceActions(base).build).toEqual({ allowed: true, blockedBy: null });
    expect(evidenceActions(facts({ recordingFinished: false })).build).toEqual({ allowed: false, blockedBy: 'recording_not_finished' });
    const running = evidenceActions(facts({ activeJobs: [{ kind: 'build' }] }));
    expect(running.build.blockedBy).toBe('build_running');
    // While the set is rebuilt, its discs wait.
    expect(running.discs[0]?.verify.blockedBy).toBe('build_running');
    // Another job (a burn) does not close verifying: the service queues it.
    expect(evidenceActions(facts({ activeJobs: [{ kind: 'burn' }] })).discs[0]?.verify.allowed).toBe(true);
  });

  it('a stale image (a segment came after it was built) may be verified and rebuilt, not burned, sealed or handed over', () => {
    const burned = [{ kind: 'image_built', discNo: 1, copy: null, imageSha256: A }, { kind: 'burned', discNo: 1, copy: 'master' as const, imageSha256: A }];
    const stale = evidenceActions(facts({ imagesStale: true, events: burned }));
    const d = stale.discs[0]!;
    expect([d.burnMaster.blockedBy, d.burnWorking.blockedBy, d.seal.blockedBy, d.handOver.blockedBy]).toEqual(['image_stale', 'image_stale', 'image_stale', 'image_stale']);
    expect(d.verify.allowed).toBe(true);
    expect(stale.build.allowed).toBe(true);
    // The same facts, not stale: the master may be sealed.
    expect(evidenceActions(facts({ events: burned })).discs[0]?.seal.allowed).toBe(true);
  });

  it('closes burning where no drive is attached, and says so', () => {
    const none = evidenceActions(facts({ drives: [{ name: 'drive-a', attached: false }] }));
    expect(none.drivesAttached).toEqual([]);
    expect(none.discs[0]?.burnMaster).toEqual({ allowed: false, blockedBy: 'no_drive' });
    expect(none.discs[0]?.burnWorking).toEqual({ allowed: false, blockedBy: 'no_drive' });
    expect(none.discs[0]?.verify.allowed).toBe(true);
    expect(evidenceActions(facts({ drives: [] })).discs[0]?.burnWorking.blockedBy).toBe('no_drive');
    expect(evidenceActions(base).drivesAttached).toEqual(['drive-a']);
  });

  it('seals only a master burned from the current image, once', () => {
    expect(evidenceActions(base).discs[0]?.seal.blockedBy).toBe('master_not_burned');
    // A master burned from an earlier image (built again since) does not count.
    const old = evidenceActions(facts({ events: [...base.events, { kind: 'burned', discNo: 1, copy: 'master', imageSha256: B }] }));
    expect(old.discs[0]?.seal.blockedBy).toBe('master_not_burned');
    // Nor does a burned working copy.
    const working = evidenceActions(facts({ events: [...base.events, { kind: 'burned', discNo: 1, copy: 'working', imageSha256: A }] }));
    expect(working.discs[0]?.seal.blockedBy).toBe('master_not_burned');
    const burned = facts({ events: [...base.events, { kind: 'burned', discNo: 1, copy: 'master', imageSha256: A }] });
    expect(evidenceActions(burned).discs[0]?.seal.allowed).toBe(true);
    const sealed = evidenceActions(facts({ events: [...burned.events, { kind: 'sealed', discNo: 1, copy: 'master', imageSha256: A }] })).discs[0];
    expect(sealed?.seal.blockedBy).toBe('sealed');
    expect(sealed?.burnMaster.blockedBy).toBe('sealed');
    expect(sealed?.burnWorking.allowed).toBe(true);
    expect(sealed?.handOver.allowed).toBe(true);
  });

  it('closes every disc action when the image file is gone', () => {
    const gone = evidenceActions(facts({ discs: [{ discNo: 1, sha256: A, fileExists: false }] })).discs[0];
    for (const a of [gone?.verify, gone?.burnMaster, gone?.burnWorking, gone?.seal, gone?.handOver, gone?.label]) expect(a?.blockedBy).toBe('image_missing');
  });
});
