import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChildReaper } from '../room-agent/child-reaper.js';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';

/** Resolves with what the bystander echoes back, or rejects if it exits (or is killed) first. */
function echoFrom(bystander: ReturnType<typeof spawn>, text: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`no echo from the bystander within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`the bystander ended (code ${code}, signal ${signal}) instead of answering`));
    };
    bystander.once('exit', onExit);
    bystander.stdout?.on('data', (chunk: Buffer) => {
      got += chunk.toString();
      if (got.includes(text)) {
        clearTimeout(timer);
        bystander.off('exit', onExit);
        resolve(got);
      }
    });
    bystander.stdin?.write(`${text}\n`);
  });
}

describe('child reaper', () => {
  it('ends the ffmpeg a hard-killed agent left behind, and nothing else', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plea-reaper-'));
    const leftover = spawn(findFfmpeg().path, ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'anullsrc', '-f', 'null', '-'], { stdio: 'ignore' });
    // Not ffmpeg, but listed too (a pid the agent once recorded, since reused by another program):
    // it must survive. `cat` answers on stdout what it reads on stdin, so it can prove it is alive.
    const bystander = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    bystander.stdin.on('error', () => undefined); // writing to a killed bystander: its exit says why
    try {
      await once(bystander, 'spawn');
      expect(await echoFrom(bystander, 'before')).toContain('before'); // the probe works
      const before = new ChildReaper(dir, 'plea-1');
      before.add(leftover.pid);
      before.add(bystander.pid);
      const exited = once(leftover, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      const after = new ChildReaper(dir, 'plea-1');
      expect(after.reapLeftovers()).toBe(1);
      // The reaper has acted: the leftover ffmpeg died of SIGKILL (nothing else sends it one).
      const [, signal] = await exited;
      expect(signal).toBe('SIGKILL');
      // Only now, after the kill, the bystander must still answer: a process the reaper killed
      // in the same pass could not (its exit rejects the probe).
      expect(await echoFrom(bystander, 'after')).toContain('after');
      expect(bystander.exitCode).toBeNull();
      expect(bystander.signalCode).toBeNull();
      expect(after.reapLeftovers()).toBe(0);
    } finally {
      leftover.kill('SIGKILL');
      bystander.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
