// Every Socket.io event, fuzzed with hostile payloads from a joined browser
// party and a joined room agent: each gets exactly one reply, an error is a
// known code with a message (never "internal"), nothing escapes as an
// unhandled rejection, and the server keeps serving.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEventAccess, clientEventSchemas } from '../server/signalling/protocol.js';
import { startTestServer } from './helpers/server.js';
import { connect, send, type TestSocket } from './helpers/client.js';
import { hostileValue, overTheWire, protoName, shapedObject } from './helpers/hostile.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let party: TestSocket;
let agent: TestSocket;
const escaped: unknown[] = [];
const onEscape = (err: unknown) => escaped.push(err);
const knownCodes = ['bad_request', 'not_joined', 'already_joined', 'not_found', 'forbidden', 'no_session', 'unsupported', 'rate_limited', 'limit_reached'];

beforeAll(async () => {
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
  // The per-connection event rate has its own test (limits.test.ts): here every payload must reach the checks.
  server = await startTestServer({ rooms: 1, overrides: { limits: { eventsPerSecond: 100000, eventBurst: 100000, joinsPerMinute: 100000 } } });
  const now = Date.now();
  const token = server.tokens.issue({ roomId: 'interrogation-1', role: 'prosecutor', bookingId: null, nbf: now - 1000, exp: now + 600_000 });
  party = await connect(server.url, { kind: 'party', token });
  expect((await send(party, 'session:join', {})).ok).toBe(true);
  agent = await connect(server.url, { kind: 'agent', roomId: 'interrogation-1', credential: server.secrets.agentCredentials['interrogation-1'] });
  expect((await send(agent, 'agent:join', {})).ok).toBe(true);
});
afterAll(async () => {
  party?.close();
  agent?.close();
  await server?.cleanup();
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
});

const events = Object.keys(clientEventSchemas).filter((e) => e !== 'session:leave');
function fieldsOf(event: string): string[] {
  const schema = (clientEventSchemas as Record<string, { properties?: Record<string, unknown> }>)[event];
  return Object.keys(schema?.properties ?? {});
}
// Plausible values, so a share of payloads passes the schema and reaches the handler.
const idLike = fc.oneof(protoName, fc.string({ minLength: 1, maxLength: 40 }));
function plausible(field: string): fc.Arbitrary<unknown> {
  switch (field) {
    case 'direction': return fc.constantFrom('send', 'recv', 'sideways');
    case 'kind': return fc.constantFrom('audio', 'video', 'constructor');
    case 'source': return fc.constantFrom('camera', 'microphone', 'toString');
    case 'ip': return fc.constantFrom('127.0.0.1', '10.0.0.1', 'constructor');
    case 'port': case 'rtcpPort': return fc.integer({ min: 1000, max: 66000 });
    case 'displayName': return fc.oneof(protoName, fc.string({ minLength: 1, maxLength: 70 }));
    case 'rtpCapabilities': return fc.constantFrom({ codecs: [] }, { codecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] }, { codecs: [{ constructor: 1 }] });
    case 'dtlsParameters': return fc.constantFrom({ fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] }, { role: 'client', fingerprints: [{ algorithm: 'toString', value: 'constructor' }] });
    case 'rtpParameters': return fc.constantFrom(
      { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: 1 }] },
      { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, constructor: 'x' }], encodings: [{ ssrc: 2, __proto__: 1 }] }
    );
    case 'tracks': return fc.constantFrom([{ kind: 'audio', source: 'microphone', ssrc: 1, payloadType: 100, sourcePort: 40000, sourceRtcpPort: 40001 }], [{ kind: 'video', source: 'camera', constructor: 1 }]);
    default: return field.endsWith('Id') ? idLike : hostileValue();
  }
}
const eventCase = fc.constantFrom(...events).chain((event) =>
  fc.record({
    event: fc.constant(event),
    // Mostly from the side the event is for, so most cases pass the access gate.
    from: fc.integer({ min: 0, max: 4 }).map((n) => {
      const allowed = clientEventAccess[event as keyof typeof clientEventAccess].from as readonly string[];
      return n === 0 ? (allowed.includes('party') ? 'agent' : 'party') : allowed.includes('party') && (n % 2 === 0 || !allowed.includes('agent')) ? 'party' : 'agent';
    }),
    payload: fc.oneof({ weight: 3, arbitrary: shapedObject(fieldsOf(event), plausible) }, { weight: 1, arbitrary: hostileValue(fieldsOf(event)) }),
    withAck: fc.integer({ min: 0, max: 9 }).map((n) => n > 0),
  })
);

describe('fuzzed event payloads', () => {
  it('thousands of payloads over every event: one clear reply each, no crash', async () => {
    let ran = 0;
    let reachedHandler = 0;
    const codes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(eventCase, async ({ event, from, payload, withAck }) => {
        ran++;
        const socket = from === 'party' ? party : agent;
        const wire = overTheWire(payload);
        if (!withAck) {
          (socket.emit as unknown as (ev: string, p: unknown) => void)(event, wire);
          return;
        }
        const reply = await send(socket, event, wire);
        expect(typeof reply.ok).toBe('boolean');
        if (reply.ok) {
          reachedHandler++;
          return;
        }
        expect(knownCodes).toContain(reply.error.code);
        expect(reply.error.message.length).toBeGreaterThan(3);
        codes.set(reply.error.code, (codes.get(reply.error.code) ?? 0) + 1);
        if (reply.error.code !== 'bad_request' && reply.error.code !== 'forbidden') reachedHandler++;
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: false }
    );
    expect(ran).toBeGreaterThanOrEqual(1000);
    // A fuzzer that only ever meets the schema proves little: a tenth must get past it.
    expect(reachedHandler / ran).toBeGreaterThan(0.1);
    expect(codes.get('bad_request') ?? 0).toBeGreaterThan(0);
    expect(escaped).toEqual([]);
    // Still serving: a fresh party can join.
    const other = await connect(server.url, { kind: 'party', token: server.tokens.issue({ roomId: 'interrogation-1', role: 'lawyer', bookingId: null, nbf: 0, exp: Date.now() + 60_000 }) });
    expect((await send(other, 'session:join', {})).ok).toBe(true);
    other.close();
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  });

  it('event names that are Object.prototype members get a clear unknown-event reply', async () => {
    for (const name of Object.getOwnPropertyNames(Object.prototype)) {
      if (name === '__proto__') continue; // socket.io-client cannot emit it
      const reply = await send(party, name, {});
      expect(reply.ok).toBe(false);
      if (!reply.ok) expect(reply.error.message).toMatch(/unknown event/);
    }
  });
});
