import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChildReaper } from '../room-agent/child-reaper.js';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import { waitFor } from './helpers/server.js';

describe('child reaper', () => {
  it('ends the ffmpeg a hard-killed agent left behind, and nothing else', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plea-reaper-'));
    const leftover = spawn(findFfmpeg().path, ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'anullsrc', '-f', 'null', '-'], { stdio: 'ignore' });
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const before = new ChildReaper(dir, 'plea-1');
      before.add(leftover.pid);
      before.add(bystander.pid); // not ffmpeg: must survive
      const exited = new Promise((r) => leftover.once('exit', r));
      const after = new ChildReaper(dir, 'plea-1');
      expect(after.reapLeftovers()).toBe(1);
      await exited;
      expect(bystander.exitCode).toBeNull();
      await waitFor('bystander still alive', () => bystander.exitCode === null && bystander.signalCode === null);
      expect(after.reapLeftovers()).toBe(0);
    } finally {
      leftover.kill('SIGKILL');
      bystander.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
