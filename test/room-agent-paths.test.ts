// The room agent never puts a server-supplied string in a file path unchecked.
import { describe, expect, it } from 'vitest';
import { safeFileId } from '../room-agent/player.js';

describe('server-supplied ids in the room agent file paths', () => {
  it('accepts mediasoup ids and refuses paths, dots and separators', () => {
    expect(safeFileId('3f6c2a1e-0b7d-4c1e-9a55-1d2e3f4a5b6c', 'consumer id')).toBe('3f6c2a1e-0b7d-4c1e-9a55-1d2e3f4a5b6c');
    for (const bad of ['../../etc/cron.d/x', '/tmp/x', 'a/b', '..', 'a\\b', '', 'a'.repeat(65), 'x\u0000y', 'constructor.sdp']) {
      expect(() => safeFileId(bad, 'consumer id'), bad).toThrow(/not a plain id/);
    }
  });
});
