// Staff sign in with their own accounts; the shared staff key is gone.
// - An old secrets.json with staff keys loads: the keys are dropped (warned, removed
//   from the file) and grant nothing over REST or in a board handshake; a config that
//   still configures keys is refused at start with what to do instead.
// - The board's Socket.io handshake signs in with the session cookie: staff only;
//   no cookie, a staff key, a person of another role are refused and audited.
// - Signing out, logging out everywhere, losing the role, a login session ended
//   elsewhere: the board's socket ends.
// - Staff see which rooms are busy and the booking ids, but the board's socket never
//   joins or consumes, and a member of staff is no party to any hearing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../server/app.js';
import { loadConfig, ConfigError } from '../server/config.js';
import { createRootLogger } from '../server/logger.js';
import { startTestServer, testConfig, waitFor } from './helpers/server.js';
import { bookingRequest, call } from './helpers/http.js';
import { connect, send, type TestSocket } from './helpers/client.js';
import { makeUser, signIn, signedInAs, type SignedIn } from './helpers/accounts.js';
import { staffMember } from './helpers/staff.js';
import { allDayOverrides, bookInRoom, tenOClock } from './helpers/recording.js';

const OLD_KEY = 'old-shared-staff-key-0123456789';

describe('the shared staff key of before accounts', () => {
  it('an old secrets.json with staff keys loads: the keys are dropped with a warning, removed from the file, and grant nothing over REST or in a board handshake (refused and audited)', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-oldkeys-'));
    const file = path.join(dataDir, 'secrets.json');
    writeFileSync(file, JSON.stringify({ staffKeys: { staff: OLD_KEY, wang: `${OLD_KEY}-wang` } }), { mode: 0o600 });
    const lines: string[] = [];
    const config = testConfig({ dataDir, rooms: 1, standingSessions: false });
    const server = await startServer(config, createRootLogger('warn', { write: (line: string) => void lines.push(line) }));
    try {
      expect(lines.some((l) => l.includes('shared staff keys') && l.includes('grant nothing'))).toBe(true);
      const stored = readFileSync(file, 'utf8');
      expect(stored).not.toContain('staffKeys');
      expect(stored).not.toContain(OLD_KEY);
      for (const [method, url, body] of [['GET', '/api/schedule/day', undefined], ['POST', '/api/bookings', bookingRequest()], ['GET', '/api/sessions', undefined]] as const) {
        const res = await call(server.url, method, url, body, OLD_KEY);
        expect(res.status, `${method} ${url}`).toBe(401);
      }
      expect(server.schedule.store.rows(String(bookingRequest()['date']))).toEqual([]);
      await expect(connect(server.url, { kind: 'board', key: OLD_KEY })).rejects.toThrow(/staff keys are no longer accepted: sign in/);
      const refused = server.audit.recent(50).filter((e) => e.action === 'handshake.refused');
      expect(refused.at(-1)?.detail).toMatchObject({ kind: 'board', reason: expect.stringMatching(/staff keys are no longer accepted/) });
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a config that still configures staff keys is refused at start, saying what to do; an empty leftover loads', () => {
    let thrown: unknown;
    try {
      loadConfig({ env: {}, overrides: { access: { staffKeys: { staff: OLD_KEY } } } });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).field).toBe('access.staffKeys');
    expect((thrown as Error).message).toMatch(/no longer supported.*detention_staff.*API token.*remove access\.staffKeys/);
    const config = loadConfig({ env: {}, overrides: { access: { staffKeys: {} } } });
    expect(Object.hasOwn(config.access, 'staffKeys')).toBe(false);
  });
});

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;

beforeAll(async () => {
  // No periodic re-check during the file: a socket that ends does so because of the sign-out itself.
  server = await startTestServer({ rooms: 3, standingSessions: false, overrides: allDayOverrides, clock: tenOClock, recheckSeconds: 3600 });
});
afterAll(async () => {
  await server?.cleanup();
});

/** The board sockets the server holds for `username`. */
const boardsOf = (username: string) => [...server.signalling.io.sockets.sockets.values()].filter((s) => s.data.kind === 'board' && s.data.principal.username === username).length;
const board = (s: SignedIn) => connect(server.url, { kind: 'board' }, { cookie: s.cookie });
const refusedHandshakes = (since: number) => server.audit.recent(500).filter((e) => e.seq > since && e.action === 'handshake.refused').sort((a, b) => a.seq - b.seq);
const lastSeq = () => Math.max(0, ...server.audit.recent(1).map((e) => e.seq));

/** Resolves with the reason once the server ends the socket. */
function ended(socket: TestSocket): Promise<string> {
  return new Promise((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
}
/** `p`, or 'still connected' after `ms`. */
function within<T>(p: Promise<T>, ms = 10_000): Promise<T | 'still connected'> {
  return Promise.race([p, new Promise<'still connected'>((r) => setTimeout(() => r('still connected'), ms))]);
}

describe("the board's handshake", () => {
  it('signs a member of staff in with the session cookie; no cookie, a person of another role, or one still to change the password are refused and audited', async () => {
    const staff = await staffMember(server, { username: 'staff-wu' });
    const socket = await board(staff);
    expect(boardsOf('staff-wu')).toBe(1);
    socket.close();

    const seq = lastSeq();
    await expect(connect(server.url, { kind: 'board' })).rejects.toThrow(/sign in first/);
    const prosecutor = await signedInAs(server, 'prosecutor');
    await expect(board(prosecutor)).rejects.toThrow(/for detention-centre staff/);
    const pending = await makeUser(server, ['detention_staff']);
    const pendingSignedIn = await signIn(server, pending);
    server.db.prepare('UPDATE users SET must_change_password = 1 WHERE id = ?').run(pending.id);
    await expect(board(pendingSignedIn)).rejects.toThrow(/change your password first/);
    // A forged or stale cookie is nobody.
    await expect(connect(server.url, { kind: 'board' }, { cookie: 'plea_session=s%3Aforged.forged' })).rejects.toThrow(/sign in first/);
    const reasons = refusedHandshakes(seq).map((e) => (e.detail as { kind: string; reason: string }));
    expect(reasons.map((r) => r.kind)).toEqual(['board', 'board', 'board', 'board']);
    expect(reasons.map((r) => r.reason)).toEqual(['sign in first', 'the schedule board is for detention-centre staff', 'change your password first', 'sign in first']);
  });

  it('a staff key is refused even beside a valid staff cookie', async () => {
    const staff = await staffMember(server);
    const seq = lastSeq();
    await expect(connect(server.url, { kind: 'board', key: OLD_KEY }, { cookie: staff.cookie })).rejects.toThrow(/staff keys are no longer accepted/);
    expect(refusedHandshakes(seq)).toHaveLength(1);
    expect(boardsOf(staff.user.username)).toBe(0);
  });
});

describe("signing out ends the board's socket", () => {
  it('logout: the socket is ended at once, and its cookie opens no board again (refused, audited)', async () => {
    const staff = await staffMember(server);
    const socket = await board(staff);
    const end = ended(socket);
    expect((await staff.call('POST', '/api/auth/logout')).status).toBe(204);
    expect(await within(end)).toBe('io server disconnect');
    expect(boardsOf(staff.user.username)).toBe(0);
    const seq = lastSeq();
    await expect(board(staff)).rejects.toThrow(/sign in first/);
    expect(refusedHandshakes(seq)).toHaveLength(1);
  });

  it('logout everywhere from another device ends the board of every login session', async () => {
    const user = await makeUser(server, ['detention_staff']);
    const [here, there] = [await signIn(server, user), await signIn(server, user)];
    const [a, b] = [await board(here), await board(there)];
    const ends = Promise.all([ended(a), ended(b)]);
    expect((await there.call('POST', '/api/auth/logout-everywhere')).status).toBe(200);
    expect(await within(ends)).toEqual(['io server disconnect', 'io server disconnect']);
  });

  it('signing out one login session leaves the same person’s board in another open', async () => {
    const user = await makeUser(server, ['detention_staff']);
    const [here, there] = [await signIn(server, user), await signIn(server, user)];
    const [a, b] = [await board(here), await board(there)];
    const endA = ended(a);
    expect((await here.call('POST', '/api/auth/logout')).status).toBe(204);
    expect(await within(endA)).toBe('io server disconnect');
    expect(b.connected).toBe(true);
    b.close();
  });

  it('losing the staff role, or a login session ended behind the server (e.g. by another process), ends the board too', async () => {
    const demoted = await staffMember(server);
    const s1 = await board(demoted);
    const end1 = ended(s1);
    server.accounts.updateUser(demoted.user.id, { roles: ['prosecutor'] }, 'test');
    expect(await within(end1)).toBe('io server disconnect');

    const other = await staffMember(server);
    const s2 = await board(other);
    const end2 = ended(s2);
    server.db.prepare('UPDATE login_sessions SET revoked_at = ? WHERE user_id = ?').run(new Date().toISOString(), other.user.id);
    // The periodic re-check (every 15 s by default) finds it; run it now instead of waiting.
    server.signalling.recheckPeople();
    expect(await within(end2)).toBe('io server disconnect');
  });
});

describe('staff see the rooms, never the hearing', () => {
  it('staff read which rooms are busy and the booking, but neither the board nor a person socket of theirs joins or consumes', async () => {
    const staff = await staffMember(server, { username: 'staff-sun' });
    const roomId = server.config.site.rooms[0]!.id;
    const booked = await bookInRoom(server, roomId);
    expect(booked.status).toBe(200);
    const sessions = await call<{ sessions: Array<{ roomId: string; bookingId: string | null; parties: unknown[] }> }>(server.url, 'GET', '/api/sessions', undefined, staff);
    expect(sessions.status).toBe(200);
    expect(sessions.body.sessions.find((s) => s.roomId === roomId)?.bookingId).toBe(booked.id);
    const session = server.registry.forBooking(booked.id)!;
    const producerId = 'x'.repeat(36);

    const boardSocket = await board(staff);
    const tries: Array<[string, unknown]> = [
      ['session:join', { bookingId: booked.id }],
      ['session:join', {}],
      ['agent:join', {}],
      ['transport:create', { direction: 'recv' }],
      ['consumer:create', { producerId, transportId: 'x', rtpCapabilities: { codecs: [] } }],
      ['agent:consume', { producerId, ip: '127.0.0.1', port: 40000, rtcpPort: 40001 }],
      ['agent:publish', { tracks: [] }],
    ];
    for (const [event, payload] of tries) {
      const reply = await send(boardSocket, event, payload);
      expect(reply, event).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    boardSocket.close();

    // Signed in as a person (the handshake hearing pages use): staff are booked on no hearing.
    const person = await connect(server.url, { kind: 'person' }, { cookie: staff.cookie });
    const reply = await send(person, 'session:join', { bookingId: booked.id });
    expect(reply.ok).toBe(false);
    person.close();
    expect(session.partyList()).toEqual([]);
    expect(server.audit.recent(100).some((e) => e.action === 'join.refused' && e.actor === 'user:staff-sun')).toBe(true);
  });
});
