// Malformed or out-of-order signalling messages get an error reply and never
// crash the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { connect, send, type TestSocket } from './helpers/client.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ rooms: 1 });
  const now = Date.now();
  token = server.tokens.issue({ roomId: 'interrogation-1', role: 'prosecutor', bookingId: null, nbf: now - 1000, exp: now + 600_000 });
});
afterAll(async () => server?.cleanup());

function errorOf(reply: Awaited<ReturnType<typeof send>>): { code: string; message: string } {
  expect(reply.ok).toBe(false);
  if (reply.ok) throw new Error('expected an error');
  return reply.error;
}

describe('handshake', () => {
  it('rejects a connection without auth, naming the problem', async () => {
    await expect(connect(server.url, {})).rejects.toThrow(/bad handshake/);
  });
  it('rejects a forged join link', async () => {
    await expect(connect(server.url, { kind: 'party', token: token.slice(0, -3) + 'abc' })).rejects.toThrow(/signature invalid/);
  });
  it('rejects an expired join link', async () => {
    const old = server.tokens.issue({ roomId: 'interrogation-1', role: 'lawyer', bookingId: null, nbf: 0, exp: Date.now() - 1 });
    await expect(connect(server.url, { kind: 'party', token: old })).rejects.toThrow(/expired/);
  });
  it('rejects an agent with a wrong credential', async () => {
    await expect(connect(server.url, { kind: 'agent', roomId: 'interrogation-1', credential: 'x'.repeat(20) })).rejects.toThrow(/credential/);
  });
});

describe('messages', () => {
  let socket: TestSocket;
  beforeAll(async () => {
    socket = await connect(server.url, { kind: 'party', token });
  });
  afterAll(() => {
    socket?.close();
  });

  it('refuses media requests before join', async () => {
    expect(errorOf(await send(socket, 'transport:create', { direction: 'send' })).code).toBe('not_joined');
    expect(
      errorOf(await send(socket, 'consumer:create', { producerId: 'p1', transportId: 't1', rtpCapabilities: { codecs: [] } })).code
    ).toBe('not_joined');
  });

  it('answers wrong types with bad_request naming the field', async () => {
    const e = errorOf(await send(socket, 'transport:create', { direction: 5 }));
    expect(e.code).toBe('bad_request');
    expect(e.message).toMatch(/direction/);
    const missing = errorOf(await send(socket, 'transport:connect', { transportId: 'x' }));
    expect(missing.message).toMatch(/dtlsParameters/);
    expect(errorOf(await send(socket, 'session:join', 'not an object')).code).toBe('bad_request');
    expect(errorOf(await send(socket, 'session:join', { bookingId: 'B-1', extra: 1 })).message).toMatch(/extra/);
  });

  it('answers unknown events and agent-only events', async () => {
    expect(errorOf(await send(socket, 'no:such:event', {})).message).toMatch(/unknown event/);
    expect(errorOf(await send(socket, 'agent:publish', { tracks: [] })).code).toBe('forbidden');
  });

  it('survives events without an acknowledgement', async () => {
    (socket.emit as unknown as (ev: string, p: unknown) => void)('transport:create', { direction: 'sideways' });
    (socket.emit as unknown as (ev: string) => void)('session:join');
    const health = await fetch(`${server.url}/api/health`);
    expect(health.status).toBe(200);
  });

  it('after join: unknown ids get not_found, mediasoup rejections get bad_request', async () => {
    const joined = await send(socket, 'session:join', {});
    expect(joined.ok).toBe(true);
    expect(errorOf(await send(socket, 'session:join', {})).code).toBe('already_joined');
    const fingerprints = [{ algorithm: 'sha-256', value: 'AA' }];
    expect(errorOf(await send(socket, 'transport:connect', { transportId: 'nope', dtlsParameters: { fingerprints } })).code).toBe('not_found');
    expect(errorOf(await send(socket, 'consumer:resume', { consumerId: 'nope' })).code).toBe('not_found');
    const recv = await send(socket, 'transport:create', { direction: 'recv' });
    expect(recv.ok).toBe(true);
    const recvId = recv.ok ? (recv.data as { transportId: string }).transportId : '';
    expect(errorOf(await send(socket, 'consumer:create', { producerId: 'nope', transportId: recvId, rtpCapabilities: { codecs: [] } })).code).toBe('not_found');
    // Producing on a receive transport is refused.
    const rtpParameters = { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: 1234 }] };
    expect(errorOf(await send(socket, 'producer:create', { transportId: recvId, kind: 'video', source: 'camera', rtpParameters })).code).toBe('bad_request');
    const sendT = await send(socket, 'transport:create', { direction: 'send' });
    const sendId = sendT.ok ? (sendT.data as { transportId: string }).transportId : '';
    // A codec the router does not have: mediasoup refuses, we answer.
    const h265 = { codecs: [{ mimeType: 'video/H265', payloadType: 120, clockRate: 90000 }], encodings: [{ ssrc: 99 }] };
    const refused = errorOf(await send(socket, 'producer:create', { transportId: sendId, kind: 'video', source: 'camera', rtpParameters: h265 }));
    expect(['bad_request', 'unsupported']).toContain(refused.code);
    // Bad DTLS parameters are refused by the schema before mediasoup sees them.
    expect(errorOf(await send(socket, 'transport:connect', { transportId: sendId, dtlsParameters: { fingerprints: [] } })).code).toBe('bad_request');
  });

  it('is still serving after all of that', async () => {
    const other = await connect(server.url, { kind: 'party', token: server.tokens.issue({ roomId: 'interrogation-1', role: 'lawyer', bookingId: null, nbf: 0, exp: Date.now() + 60_000 }) });
    const reply = await send(other, 'session:join', {});
    expect(reply.ok).toBe(true);
    other.close();
    const res = await fetch(`${server.url}/api/health`);
    expect(await res.json()).toMatchObject({ ok: true, sessions: 1 });
  });
});
