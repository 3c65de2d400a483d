// The agent's ffmpeg children must not outlive it: if the agent is killed hard
// (SIGKILL, crash, power button), its publisher would go on sending into a
// closed transport and a restarted agent would start a second one. Every child
// pid is recorded in the work directory; a starting agent ends the ones a
// previous run left behind (only if they still are ffmpeg/ffplay processes).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class ChildReaper {
  private readonly file: string;
  private readonly pids = new Set<number>();

  constructor(workDir: string, roomId: string) {
    mkdirSync(workDir, { recursive: true });
    this.file = path.join(workDir, `${roomId}.children`);
  }

  /** Kills children left by a previous run of this room's agent; returns how many. */
  reapLeftovers(): number {
    if (!existsSync(this.file)) return 0;
    let killed = 0;
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      const pid = Number(line);
      if (!Number.isInteger(pid) || pid <= 1) continue;
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (/ff(mpeg|play)/.test(cmd.split('\0')[0] ?? '')) {
          process.kill(pid, 'SIGKILL');
          killed++;
        }
      } catch {
        // gone already
      }
    }
    writeFileSync(this.file, '');
    return killed;
  }

  add(pid: number | undefined): void {
    if (!pid) return;
    this.pids.add(pid);
    this.save();
  }

  remove(pid: number | undefined): void {
    if (!pid || !this.pids.delete(pid)) return;
    this.save();
  }

  private save(): void {
    try {
      writeFileSync(this.file, [...this.pids].join('\n'));
    } catch {
      // The work directory went away (agent shutting down): nothing left to protect.
    }
  }
}
