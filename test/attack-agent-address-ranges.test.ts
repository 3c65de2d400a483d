// Attack (hostile insider, or an administrator's typo): binding a room agent's
// credential to a range the matcher cannot compile ("0.0.0.0/0", "::/0"). The
// check said "an address or CIDR" and let it through; the binding was saved to
// secrets.json, and the matcher (Fastify's proxy-addr) threw on it: the bind
// answered 500 and the room's agent handshake met a throwing matcher from then
// on. Each malformed range must be refused with 400, leave the binding as it
// was, and the room's agent must still connect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { connect } from './helpers/client.js';
import { signedInAs } from './helpers/accounts.js';
import { isAddressOrRange } from '../server/access/agent-address.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
beforeAll(async () => {
  server = await startTestServer({ rooms: 1 });
});
afterAll(async () => server?.cleanup());

const malformed = ['0.0.0.0/0', '::/0', '1.2.3.4/33', '::1/129', '1.2.3.4/', '/8', '1.2.3.4/8/8', '1.2.3.4/-1', '10.0.0.0/255.0.0.0', '__proto__', 'constructor/8', ' 1.2.3.4', '1.2.3.4 '];

describe('attack: binding an agent credential to a malformed range', () => {
  it('the rule refuses every range the matcher cannot use', () => {
    for (const a of malformed) expect(isAddressOrRange(a), a).toBe(false);
    for (const a of ['127.0.0.1', '127.0.0.0/8', '192.0.2.0/24', '::1', '2001:db8::/32', '::ffff:127.0.0.1']) expect(isAddressOrRange(a), a).toBe(true);
  });

  it('over REST: 400 for each, the binding unchanged, the agent still connects', async () => {
    const room = 'interrogation-1';
    const admin = await signedInAs(server, 'administrator');
    const credential = server.agentCredentials.rotate(room, 'user:admin');
    expect((await admin.call('PUT', `/api/rooms/${room}/agent-address`, { addresses: ['127.0.0.0/8'] })).status).toBe(200);
    for (const a of malformed) {
      const r = await admin.call('PUT', `/api/rooms/${room}/agent-address`, { addresses: ['127.0.0.1', a] });
      expect(r.status, `${a}: ${JSON.stringify(r.body)}`).toBe(400);
    }
    expect([...server.agentCredentials.addresses(room)]).toEqual(['127.0.0.0/8']);
    const agent = await connect(server.url, { kind: 'agent', roomId: room, credential });
    agent.close();
  });
});
