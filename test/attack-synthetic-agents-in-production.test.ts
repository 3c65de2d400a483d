// Attack (an insider with the server's environment, or a copied demo overlay):
// a production start (`npm run serve`, server/main.ts without --demo) with
// PLEA_SYNTHETIC_AGENTS=1, or an overlay file setting demo.syntheticAgents,
// started a synthetic room agent for every room with that room's real
// credential, over loopback: each room's agent place taken by a test pattern,
// the real room PC refused as a second connection, a hearing recorded from
// the synthetic source. The configuration is what main.ts loads: it must
// refuse to start, naming the field; the embedded demo keeps its agents.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'plea-synthetic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('the configuration was accepted');
}

describe('attack: synthetic room agents switched on in a production start', () => {
  it('by the environment: refused, naming demo.syntheticAgents', () => {
    for (const v of ['1', 'true', 'on']) {
      const err = refusal(() => loadConfig({ env: { PLEA_SYNTHETIC_AGENTS: v } }));
      expect(err.message).toMatch(/demo\.syntheticAgents/);
      expect(err.message).toMatch(/embedded demo only/);
    }
  });

  it('by an overlay file (PLEA_CONFIG): refused', () => {
    const file = path.join(dir, 'overlay.json');
    writeFileSync(file, JSON.stringify({ demo: { syntheticAgents: true } }));
    expect(refusal(() => loadConfig({ env: { PLEA_CONFIG: file } })).message).toMatch(/demo\.syntheticAgents/);
  });

  it('the embedded demo still has them, and a production start without the switch has none', () => {
    expect(loadConfig({ demo: true, env: {} }).demo.syntheticAgents).toBe(true);
    expect(loadConfig({ env: {} }).demo.syntheticAgents).toBe(false);
    expect(loadConfig({ env: { PLEA_SYNTHETIC_AGENTS: '0' } }).demo.syntheticAgents).toBe(false);
  });
});
