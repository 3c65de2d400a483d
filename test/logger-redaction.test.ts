// Secrets never reach the log: SRTP keys of room media, agent credentials and
// tokens are censored wherever they sit in a logged object.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRootLogger } from '../server/logger.js';

describe('log redaction', () => {
  it('censors SRTP keys, credentials and tokens at any depth the server logs', () => {
    const lines: string[] = [];
    const capture = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
    const log = createRootLogger('info', capture).child({ component: 'signalling' });
    const key = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk';
    log.info({ srtpKey: key }, 'top');
    log.info({ reply: { srtpKey: key, srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: key } } }, 'nested');
    log.info({ payload: { tracks: [{ srtpKey: key }] } }, 'in an array');
    log.info({ auth: { kind: 'agent', roomId: 'plea-1', credential: 'a-room-credential-1234' } }, 'handshake');
    const all = lines.join('');
    expect(lines).toHaveLength(4);
    expect(all).not.toContain(key);
    expect(all).not.toContain('a-room-credential-1234');
    expect(all.match(/\[redacted\]/g)?.length ?? 0).toBeGreaterThanOrEqual(4);
    // What is not a secret stays.
    expect(all).toContain('"roomId":"plea-1"');
  });
});
