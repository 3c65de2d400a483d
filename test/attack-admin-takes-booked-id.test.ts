// Regression, named after the attack: "an administrator makes an account with a
// booked lawyer's id and joins the hearing". Bookings name people by id; a
// defence lawyer without an account joins by guest link. An account created
// with that id would have been "the booked lawyer" to the join rules. Such an
// id is refused (and the refusal audited); an account made under a fresh id
// is nobody on the booking.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { bookingRequest } from './helpers/http.js';
import { makeUser, signIn, type SignedIn } from './helpers/accounts.js';
import { JoinRules } from '../server/access/join-rules.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let admin: SignedIn;
let bookingId: string;

beforeAll(async () => {
  server = await startTestServer({ rooms: 2, standingSessions: false });
  admin = await signIn(server, await makeUser(server, ['administrator']));
  const staff = await signIn(server, await makeUser(server, ['detention_staff']));
  const made = await staff.call('POST', '/api/bookings', bookingRequest({ prosecutorId: 'P-B1', lawyerRole: 'defence', lawyerId: 'L-GUEST-1' }));
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  bookingId = String(made.body['id']);
});
afterAll(async () => {
  await server?.cleanup();
});

describe("attack: an administrator makes an account with a booked lawyer's id and joins the hearing", () => {
  it('refuses the booked id with the reason, audits the refusal, and gives a fresh id no right to the booking', async () => {
    const taken = await admin.call('POST', '/api/admin/users', { id: 'L-GUEST-1', username: 'fake.lawyer', displayName: '辩护律师', organisationId: 'site', roles: ['defence_lawyer'] });
    expect(taken.status, JSON.stringify(taken.body)).toBe(409);
    expect(taken.body['error']).toBe('id_on_bookings');
    expect(server.accounts.store.user('L-GUEST-1')).toBeNull();
    const refusal = server.audit.recent(50).find((e) => e.action === 'user.create_refused');
    expect(refusal?.subject).toBe('user:L-GUEST-1');
    expect(refusal?.actor).toBe(`user:${admin.user.username}`);
    // The prosecutor's id too.
    expect((await admin.call('POST', '/api/admin/users', { id: 'P-B1', username: 'fake.prosecutor', displayName: '检察官', organisationId: 'site', roles: ['prosecutor'] })).status).toBe(409);

    // Without a chosen id the account gets a fresh one, which no booking names.
    const fresh = await admin.call<{ user: { id: string } }>('POST', '/api/admin/users', { username: 'fake.lawyer', displayName: '辩护律师', organisationId: 'site', roles: ['defence_lawyer'] });
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(201);
    const user = server.accounts.store.user(fresh.body.user.id)!;
    const verdict = new JoinRules(server.schedule, server.config, server.departments).forPerson(
      { kind: 'user', userId: user.id, username: user.username, displayName: user.displayName, organisationId: user.organisationId, roles: user.roles, loginSessionId: 't', mustChangePassword: false },
      bookingId
    );
    expect(verdict.ok).toBe(false);
    // An id no open booking names may still be chosen (people are made before they are booked).
    expect((await admin.call('POST', '/api/admin/users', { id: 'L-LATER-1', username: 'later.lawyer', displayName: '律师', organisationId: 'site', roles: ['defence_lawyer'] })).status).toBe(201);
  });
});
