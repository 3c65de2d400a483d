// Every REST route from the server's own registry, fuzzed with hostile path
// parameters, query strings and bodies (Object.prototype names as keys and
// values, broken JSON, wrong content types), unauthenticated, as staff and as a
// room agent: never a 5xx, always a JSON { error, message } on refusal, nothing
// escaping as an unhandled rejection.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { hostileString, hostileValue, protoName, shapedObject } from './helpers/hostile.js';
import { apiToken, staffOf } from './helpers/staff.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
const escaped: unknown[] = [];
const onEscape = (err: unknown) => escaped.push(err);

beforeAll(async () => {
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
  // The HTTP rate limit has its own test (limits.test.ts): here every request must reach the routes.
  server = await startTestServer({ rooms: 2, overrides: { limits: { httpPerMinute: 1000000 } } });
});
afterAll(async () => {
  await server?.cleanup();
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
});

function fill(url: string, values: string[]): string {
  let i = 0;
  return url.replace(/:[A-Za-z]+|\*/g, () => encodeURIComponent(values[i++ % values.length] ?? 'x'));
}

describe('fuzzed REST requests', () => {
  it('thousands of hostile requests over every route: no 5xx, a clear error body', async () => {
    const routes = server.access.routes().filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(10);
    // Staff as a signed-in person (cookie and CSRF token) and as a machine client's API token.
    const staff = (await staffOf(server)).headers(true);
    const staffToken = `Bearer ${await apiToken(server)}`;
    const agentAuth = `Agent interrogation-1:${server.secrets.agentCredentials['interrogation-1']}`;
    const bodyFields = ['date', 'caseNumber', 'detaineeId', 'procuratorateId', 'priorityClass', 'prosecutorId', 'lawyerRole', 'lawyerId', 'sessionKind', 'requestedStart', 'durationMin', 'status', 'reason', 'roomId', 'from', 'to', 'staffId', 'start', 'end', 'role'];
    const request = fc.record({
      route: fc.constantFrom(...routes),
      params: fc.array(hostileString, { minLength: 1, maxLength: 3 }),
      query: fc.dictionary(fc.oneof(protoName, fc.constantFrom('date', 'from', 'to', 'limit', 'token')), hostileString, { maxKeys: 4 }),
      body: fc.oneof(
        { weight: 3, arbitrary: shapedObject(bodyFields, fc.oneof(hostileString, fc.integer({ min: -10, max: 2000 }), fc.constantFrom('2026-12-01', 'plea_hearing', 'district', 'defence'))).map((b) => JSON.stringify(b)) },
        { weight: 1, arbitrary: hostileValue(bodyFields).map((b) => JSON.stringify(b) ?? 'null') },
        { weight: 1, arbitrary: fc.constantFrom('{"__proto__": {"admin": true}}', '{"constructor": {"prototype": {"x": 1}}}', '{', '[]', 'null', '"x"', '{"a":' + '['.repeat(500)) }
      ),
      contentType: fc.constantFrom('application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream'),
      auth: fc.constantFrom<Record<string, string> | null>(null, staff, staff, ...[staffToken, agentAuth, 'Bearer constructor', 'Agent constructor:aaaaaaaaaaaaaaaaaaaa', 'Agent __proto__:aaaaaaaaaaaaaaaaaaaa'].map((authorization) => ({ authorization }))),
    });
    let ran = 0;
    let pastTheGate = 0;
    await fc.assert(
      fc.asyncProperty(request, async ({ route, params, query, body, contentType, auth }) => {
        ran++;
        const method = route.method as 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
        const hasBody = method !== 'GET' && method !== 'DELETE';
        const res = await server.http.inject({
          method,
          url: fill(route.url, params),
          query,
          // (The person's own logout would end their login session for the rest of the run.)
          headers: { ...(auth === staff && route.url.startsWith('/api/auth/logout') ? null : auth), ...(hasBody ? { 'content-type': contentType } : {}) },
          ...(hasBody ? { payload: body } : {}),
        });
        expect(res.statusCode, `${method} ${route.url} → ${res.statusCode} ${res.body.slice(0, 200)}`).toBeLessThan(500);
        if (res.statusCode >= 400) {
          const parsed = JSON.parse(res.body) as { error?: unknown; message?: unknown };
          expect(typeof parsed.error).toBe('string');
          expect(typeof parsed.message).toBe('string');
        }
        if (res.statusCode !== 401 && res.statusCode !== 403) pastTheGate++;
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: false }
    );
    expect(ran).toBeGreaterThanOrEqual(1000);
    // Most routes need a role the fuzzer rarely has; a tenth must still get past the gate into validation and handlers.
    expect(pastTheGate / ran).toBeGreaterThan(0.1);
    expect(escaped).toEqual([]);
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  });

  it('a JSON body carrying __proto__ is refused and pollutes nothing', async () => {
    const res = await server.http.inject({
      method: 'POST', url: '/api/bookings', headers: { ...(await staffOf(server)).headers(true), 'content-type': 'application/json' },
      payload: '{"__proto__": {"polluted": true}, "caseNumber": "x"}',
    });
    expect(res.statusCode).toBe(400);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
