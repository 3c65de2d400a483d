// Handshakes an attacker would try: keys that name Object.prototype members,
// odd values, and a flood of random auth objects. None may crash the server or
// leave an unhandled rejection; each is refused with a clear error.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { connect } from './helpers/client.js';
import { hostileString, hostileValue, overTheWire, protoName, prototypeNames, shapedObject } from './helpers/hostile.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
const escaped: unknown[] = [];
const onEscape = (err: unknown) => escaped.push(err);

beforeAll(async () => {
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
  server = await startTestServer({ rooms: 1 });
});
afterAll(async () => {
  await server?.cleanup();
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
});

describe('agent handshake naming an Object.prototype member', () => {
  it('agent with roomId "constructor" is refused and the server keeps serving', async () => {
    await expect(connect(server.url, { kind: 'agent', roomId: 'constructor', credential: 'a'.repeat(16) })).rejects.toThrow(/unknown room or wrong agent credential/);
    await new Promise((r) => setTimeout(r, 50));
    expect(escaped).toEqual([]);
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  });

  it.each(prototypeNames)('agent with roomId %s is refused', async (name) => {
    await expect(connect(server.url, { kind: 'agent', roomId: name, credential: 'b'.repeat(24) })).rejects.toThrow(/unknown room or wrong agent credential/);
    expect(escaped).toEqual([]);
  });

  it.each(prototypeNames)('handshake with kind %s is refused as a bad handshake', async (name) => {
    await expect(connect(server.url, { kind: name, roomId: name, credential: name.padEnd(16, 'x'), token: name.padEnd(16, 'x'), key: name.padEnd(16, 'x') })).rejects.toThrow(/bad handshake/);
  });
});

const credentialLike = fc.oneof(fc.string({ minLength: 16, maxLength: 80 }), protoName.map((n) => n.padEnd(16, 'x')));
const authShape = fc.oneof(
  {
    weight: 4,
    arbitrary: shapedObject(['kind', 'roomId', 'credential'], (field) =>
      field === 'kind' ? fc.constantFrom('agent', 'agent', 'party', 'constructor') : field === 'roomId' ? fc.oneof(protoName, fc.constantFrom('interrogation-1', 'plea-1'), fc.string({ minLength: 1, maxLength: 20 })) : credentialLike
    ),
  },
  { weight: 2, arbitrary: shapedObject(['kind', 'token'], fc.oneof(fc.constant('party'), hostileString, fc.string({ minLength: 10, maxLength: 80 }).map((s) => `${s}.${s}`))) },
  { weight: 2, arbitrary: shapedObject(['kind', 'key'], fc.oneof(fc.constant('board'), hostileString)) },
  { weight: 2, arbitrary: hostileValue(['kind', 'roomId', 'credential', 'token', 'key']) },
  { weight: 1, arbitrary: fc.dictionary(protoName, fc.oneof(protoName, hostileString), { maxKeys: 6 }) }
);

describe('fuzzed handshake auth objects', () => {
  it('thousands of random auth objects: each refused with a reason, none throws', () => {
    let ran = 0;
    let agentShaped = 0;
    fc.assert(
      fc.property(authShape, (auth) => {
        ran++;
        for (const form of [auth, overTheWire(auth)]) {
          const outcome = server.signalling.authenticate(form);
          expect(outcome.ok).toBe(false);
          if (!outcome.ok) expect(outcome.reason).toMatch(/^(bad handshake: .+|unknown room or wrong agent credential|staff keys are no longer accepted: sign in at \/login with your own account|sign in first|.*join link.*)$/);
          if (!outcome.ok && outcome.reason === 'unknown room or wrong agent credential') agentShaped++;
        }
      }),
      { numRuns: 5000, interruptAfterTimeLimit: 30_000, markInterruptAsFailure: false }
    );
    expect(ran).toBeGreaterThanOrEqual(2000);
    // The generator must reach the credential lookup, not only the schema check.
    expect(agentShaped / (2 * ran)).toBeGreaterThan(0.05);
    expect(escaped).toEqual([]);
  });

  it('hundreds of random auth objects over real sockets: refused, never hanging, server alive', async () => {
    let ran = 0;
    await fc.assert(
      fc.asyncProperty(authShape, async (auth) => {
        ran++;
        const err = await connect(server.url, auth).then(
          (s) => {
            s.close();
            return new Error('accepted');
          },
          (e: Error) => e
        );
        expect(err.message).not.toBe('accepted');
        // A non-object auth is dropped by Socket.io's parser (transport closes); anything else gets our reason.
        expect(err.message).not.toMatch(/no answer|timeout|handshake refused/);
        expect(err.message.length).toBeGreaterThan(5);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: false }
    );
    expect(ran).toBeGreaterThanOrEqual(100);
    expect(escaped).toEqual([]);
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  });
});
