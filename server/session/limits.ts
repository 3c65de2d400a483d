// What one session and one party may hold, so that one link (or one rogue
// agent) cannot take a media worker's ports or the server's memory from the
// other rooms on it. Each refusal is a RequestError 'limit_reached'.
import type { PartyRole } from '../signalling/protocol.js';

/** Live parties per role in one session: the room's agent, the booked prosecutor and lawyer, booked guests (a second device of the same person may overlap while the first leaves). */
export const PARTIES_PER_ROLE: ReadonlyMap<PartyRole, number> = new Map<PartyRole, number>([
  ['room', 1],
  ['prosecutor', 2],
  ['lawyer', 2],
  ['guest', 2],
]);

/** Consumers per party: the other parties' camera and microphone, with room for re-subscribing. */
export const MAX_CONSUMERS_PER_PARTY = 16;
/** Plain-RTP consumers of a room agent (agent:consume): each takes a transport with two ports. */
export const MAX_PLAIN_CONSUMERS_PER_PARTY = 8;
/**
 * Ports one session may hold on its worker. A WebRTC transport takes one UDP
 * and one TCP port, a plain transport two (RTP and RTCP). 3 parties × 4 WebRTC
 * transports × 2 + the agent's 2 published + 8 consumed plain transports × 2 = 44.
 */
export const PORTS_PER_SESSION = 48;
