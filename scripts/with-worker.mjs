#!/usr/bin/env node
// Runs a command with MEDIASOUP_WORKER_BIN pointing at the cached worker and
// node_modules/.bin on PATH: `node scripts/with-worker.mjs tsx server/main.ts`.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot, workerBinPath } from './lib/worker-cache.mjs';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: with-worker.mjs <command> [args…]');
  process.exit(2);
}
const bin = workerBinPath();
const env = {
  ...process.env,
  ...(bin ? { MEDIASOUP_WORKER_BIN: bin } : {}),
  PATH: `${path.join(repoRoot, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`,
};
const child = spawn(cmd, args, { stdio: 'inherit', env, cwd: repoRoot });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
