// The signalling protocol: every Socket.io event name, its payload schema and its
// reply type, in one module used by the server, the room agent and the browser
// code (the browser imports types only). The server checks every payload
// against the schema here before acting on it.
import Type, { type Static, type TSchema } from 'typebox';

// ---------------------------------------------------------------------------
// Shared words
export const PartyRole = Type.Union([
  Type.Literal('room'),
  Type.Literal('prosecutor'),
  Type.Literal('lawyer'),
  Type.Literal('guest'),
]);
export type PartyRole = Static<typeof PartyRole>;

export const MediaKind = Type.Union([Type.Literal('audio'), Type.Literal('video')]);
export type MediaKind = Static<typeof MediaKind>;

export const TrackSource = Type.Union([Type.Literal('camera'), Type.Literal('microphone')]);
export type TrackSource = Static<typeof TrackSource>;

const Id = Type.String({ minLength: 1, maxLength: 128 });

// mediasoup parameter objects: the shape is checked here, the details by
// mediasoup itself (its errors are returned to the caller as bad_request).
const JsonObject = Type.Record(Type.String(), Type.Unknown());
export const RtpCodecParameters = Type.Object(
  { mimeType: Type.String({ pattern: '^(audio|video)/' }), payloadType: Type.Integer({ minimum: 0, maximum: 127 }), clockRate: Type.Integer({ minimum: 1 }) },
  { additionalProperties: true }
);
export const RtpParameters = Type.Object(
  {
    codecs: Type.Array(RtpCodecParameters, { minItems: 1, maxItems: 32 }),
    encodings: Type.Optional(Type.Array(JsonObject, { maxItems: 8 })),
    headerExtensions: Type.Optional(Type.Array(JsonObject, { maxItems: 32 })),
    rtcp: Type.Optional(JsonObject),
    mid: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: true }
);
export type RtpParameters = Static<typeof RtpParameters>;
export const RtpCapabilities = Type.Object(
  { codecs: Type.Array(JsonObject, { maxItems: 128 }), headerExtensions: Type.Optional(Type.Array(JsonObject, { maxItems: 64 })) },
  { additionalProperties: true }
);
export type RtpCapabilities = Static<typeof RtpCapabilities>;
export const DtlsParameters = Type.Object(
  {
    role: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('client'), Type.Literal('server')])),
    fingerprints: Type.Array(Type.Object({ algorithm: Type.String(), value: Type.String() }, { additionalProperties: false }), { minItems: 1, maxItems: 8 }),
  },
  { additionalProperties: false }
);
export type DtlsParameters = Static<typeof DtlsParameters>;

// ---------------------------------------------------------------------------
// Replies. Every client→server event takes an acknowledgement callback that
// receives exactly one Reply.
export type ErrorCode =
  | 'bad_request'
  | 'not_joined'
  | 'already_joined'
  | 'not_found'
  | 'forbidden'
  | 'no_session'
  | 'unsupported'
  /** A limit was reached (parties, transports, consumers, ports, event rate). */
  | 'limit_reached'
  /** The audit trail cannot be written: the action is refused. */
  | 'unavailable'
  | 'internal';
export type Reply<T> = { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string } };
export type Ack<T> = (reply: Reply<T>) => void;

// ---------------------------------------------------------------------------
// Connection authentication (Socket.io handshake `auth`)
export const PartyAuth = Type.Object(
  { kind: Type.Literal('party'), token: Type.String({ minLength: 10, maxLength: 2048 }) },
  { additionalProperties: false }
);
export const AgentAuth = Type.Object(
  { kind: Type.Literal('agent'), roomId: Id, credential: Type.String({ minLength: 16, maxLength: 256 }) },
  { additionalProperties: false }
);
/**
 * A member of staff's schedule board (read-only pushes): the session cookie (sent
 * with the handshake) says who; they must hold the role detention_staff. `key` is
 * the shared staff key of before accounts: accepted by the schema only so that an
 * old page is told plainly that it is refused.
 */
export const BoardAuth = Type.Object(
  { kind: Type.Literal('board'), key: Type.Optional(Type.String({ minLength: 16, maxLength: 256 })) },
  { additionalProperties: false }
);
/** A signed-in person's page: the session cookie (sent with the handshake) says who; session:join names the booking. */
export const PersonAuth = Type.Object({ kind: Type.Literal('person') }, { additionalProperties: false });
/** A guest's page: the device cookie its guest link was redeemed into (sent with the handshake) says which link. */
export const GuestAuth = Type.Object({ kind: Type.Literal('guest') }, { additionalProperties: false });
export const HandshakeAuth = Type.Union([PartyAuth, AgentAuth, BoardAuth, PersonAuth, GuestAuth]);
export type HandshakeAuth = Static<typeof HandshakeAuth>;

// ---------------------------------------------------------------------------
// Views sent by the server
export interface PartyView {
  partyId: string;
  role: PartyRole;
  displayName: string;
  joinedAt: string;
}
export interface ProducerView {
  producerId: string;
  partyId: string;
  role: PartyRole;
  kind: MediaKind;
  source: TrackSource;
  paused: boolean;
}
export interface SessionView {
  sessionId: string;
  roomId: string;
  roomName: string;
  roomNameEn: string;
  bookingId: string | null;
  parties: PartyView[];
  producers: ProducerView[];
}
export interface IceCandidateView {
  foundation: string;
  priority: number;
  address: string;
  protocol: 'udp' | 'tcp';
  port: number;
  type: 'host' | 'srflx' | 'prflx' | 'relay';
  tcpType?: 'active' | 'passive' | 'so';
}
export interface TransportInfo {
  transportId: string;
  iceParameters: { usernameFragment: string; password: string; iceLite?: boolean };
  iceCandidates: IceCandidateView[];
  dtlsParameters: DtlsParameters;
}
export interface ConsumerInfo {
  consumerId: string;
  producerId: string;
  partyId: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
}
export interface JoinReply {
  partyId: string;
  session: SessionView;
  routerRtpCapabilities: RtpCapabilities;
}

// Room agent
export const DeviceHealth = Type.Object(
  {
    ok: Type.Boolean(),
    device: Type.String({ maxLength: 256 }),
    detail: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false }
);
export const HealthReport = Type.Object(
  {
    camera: DeviceHealth,
    microphone: DeviceHealth,
    ffmpeg: Type.Object(
      {
        ok: Type.Boolean(),
        publishing: Type.Boolean(),
        restarts: Type.Integer({ minimum: 0 }),
        players: Type.Integer({ minimum: 0 }),
        detail: Type.Optional(Type.String({ maxLength: 512 })),
      },
      { additionalProperties: false }
    ),
    network: Type.Object(
      {
        ok: Type.Boolean(),
        rttMs: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
        reconnects: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false }
    ),
    synthetic: Type.Boolean(),
    uptimeSeconds: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false }
);
export type HealthReport = Static<typeof HealthReport>;

/** An SRTP master key and salt for AES_CM_128_HMAC_SHA1_80: 30 bytes, base64. */
export const SrtpKey = Type.String({ pattern: '^[A-Za-z0-9+/]{40}$' });
/** The one SRTP suite room agents and the server use (ffmpeg's and mediasoup's common ground). */
export const SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80' as const;

export const PlainTrack = Type.Object(
  {
    kind: MediaKind,
    source: TrackSource,
    mimeType: Type.Union([Type.Literal('video/VP8'), Type.Literal('audio/opus')]),
    payloadType: Type.Integer({ minimum: 96, maximum: 127 }),
    clockRate: Type.Integer({ minimum: 8000, maximum: 90000 }),
    channels: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 })),
    ssrc: Type.Integer({ minimum: 1, maximum: 4294967295 }),
    /**
     * The agent's own RTP/RTCP source ports. With them the server accepts this
     * track only from that address (no comedia): a stray sender that happens to
     * hit the port first (e.g. the ffmpeg of a killed agent) cannot take it over.
     */
    sourcePort: Type.Optional(Type.Integer({ minimum: 1024, maximum: 65535 })),
    sourceRtcpPort: Type.Optional(Type.Integer({ minimum: 1024, maximum: 65535 })),
    /** SRTP (AES_CM_128_HMAC_SHA1_80): the agent's 30-byte master key and salt, base64. */
    srtpKey: Type.Optional(SrtpKey),
  },
  { additionalProperties: false }
);
export type PlainTrack = Static<typeof PlainTrack>;

export interface PlainPublishTarget {
  kind: MediaKind;
  producerId: string;
  ip: string;
  port: number;
  rtcpPort: number;
}
export interface PlainConsumerInfo {
  consumerId: string;
  producerId: string;
  partyId: string;
  role: PartyRole;
  kind: MediaKind;
  rtpParameters: RtpParameters;
  /** Where the server sends from: the agent's receiver takes RTP and RTCP from these and nothing else. */
  sourceIp: string;
  sourcePort: number;
  sourceRtcpPort: number;
  /**
   * SRTP (AES_CM_128_HMAC_SHA1_80): the server's 30-byte master key and salt for
   * this consumer, base64 (the agent decrypts with it). Absent: plain RTP, which
   * the server allows only when configured (media.agentPlainRtp). A secret: never logged.
   */
  srtpKey?: string;
}
/**
 * The session's clock, told to the room agent at join: the evidence video burns
 * in this clock (the server's), not the room PC's own.
 */
export interface SessionClockView {
  /** The server's clock (epoch ms) as it sent the reply; the agent derives its offset from it and the round trip. */
  serverTimeMs: number;
  /** When the session opened (ISO, UTC). */
  sessionOpenedAt: string;
  /** The site's IANA time zone: the time is shown in it. */
  timeZone: string;
}
/** What the room agent's evidence video shows and is filed under; null for a standing (demo) session, which is not recorded. */
export interface EvidenceBrief {
  bookingId: string;
  caseNumber: string;
  roomName: string;
}
/** Why a room agent's connection was raised to staff. */
export type AgentAlertReason = 'second_connection' | 'wrong_address';
export interface AgentAlert {
  roomId: string;
  reason: AgentAlertReason;
  /** Where the refused connection came from. */
  remoteAddress: string;
  at: string;
  /** Alerts of the same room and reason held back since the last one (at most one every 30 s). */
  heldBack: number;
}
export interface AgentJoinReply {
  partyId: string;
  session: SessionView;
  clock: SessionClockView;
  evidence: EvidenceBrief | null;
}

// ---------------------------------------------------------------------------
// Client → server payload schemas (one per event)
export const clientEventSchemas = {
  // Display names come from the account, the booking or the room, never from the client: `displayName` is
  // accepted from older pages and ignored. A signed-in person names the booking to join.
  'session:join': Type.Object(
    { bookingId: Type.Optional(Id), displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
    { additionalProperties: false }
  ),
  'session:leave': Type.Object({}, { additionalProperties: false }),
  'transport:create': Type.Object(
    { direction: Type.Union([Type.Literal('send'), Type.Literal('recv')]), forceTcp: Type.Optional(Type.Boolean()) },
    { additionalProperties: false }
  ),
  'transport:connect': Type.Object({ transportId: Id, dtlsParameters: DtlsParameters }, { additionalProperties: false }),
  'transport:restart-ice': Type.Object({ transportId: Id }, { additionalProperties: false }),
  'producer:create': Type.Object(
    { transportId: Id, kind: MediaKind, source: TrackSource, rtpParameters: RtpParameters },
    { additionalProperties: false }
  ),
  'producer:pause': Type.Object({ producerId: Id }, { additionalProperties: false }),
  'producer:resume': Type.Object({ producerId: Id }, { additionalProperties: false }),
  'producer:close': Type.Object({ producerId: Id }, { additionalProperties: false }),
  'consumer:create': Type.Object({ producerId: Id, transportId: Id, rtpCapabilities: RtpCapabilities }, { additionalProperties: false }),
  'consumer:resume': Type.Object({ consumerId: Id }, { additionalProperties: false }),
  'agent:join': Type.Object({ displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false }),
  'agent:health': HealthReport,
  'agent:publish': Type.Object({ tracks: Type.Array(PlainTrack, { minItems: 1, maxItems: 4 }) }, { additionalProperties: false }),
  'agent:consume': Type.Object(
    {
      producerId: Id,
      ip: Type.String({ minLength: 1, maxLength: 64 }),
      port: Type.Integer({ minimum: 1024, maximum: 65535 }),
      rtcpPort: Type.Integer({ minimum: 1024, maximum: 65535 }),
      /** SRTP: the agent's master key and salt (its RTCP to the server); absent: plain RTP, if the server allows it. */
      srtpKey: Type.Optional(SrtpKey),
    },
    { additionalProperties: false }
  ),
} satisfies Record<string, TSchema>;

// ---------------------------------------------------------------------------
// Who may send each event (see server/access/authorization.ts). A connection is
// one of: `party` (a browser entitled to join one session: a signed-in person, a
// guest link's device, or a standing demo session's join link), `agent` (a room agent with its room's credential), `board` (a
// staff page listening to the schedule). `joined`: only after joining a session.
// The socket event dispatcher enforces this table; an event missing here does
// not compile, and the registry test tries every event from every wrong kind.
export type ConnectionKind = 'party' | 'agent' | 'board';
export interface EventAccess {
  readonly from: readonly ConnectionKind[];
  readonly joined: boolean;
}
export const clientEventAccess = {
  'session:join': { from: ['party'], joined: false },
  'session:leave': { from: ['party', 'agent'], joined: false },
  'transport:create': { from: ['party'], joined: true },
  'transport:connect': { from: ['party'], joined: true },
  'transport:restart-ice': { from: ['party'], joined: true },
  'producer:create': { from: ['party'], joined: true },
  'producer:pause': { from: ['party', 'agent'], joined: true },
  'producer:resume': { from: ['party', 'agent'], joined: true },
  'producer:close': { from: ['party', 'agent'], joined: true },
  'consumer:create': { from: ['party'], joined: true },
  'consumer:resume': { from: ['party', 'agent'], joined: true },
  'agent:join': { from: ['agent'], joined: false },
  'agent:health': { from: ['agent'], joined: false },
  'agent:publish': { from: ['agent'], joined: true },
  'agent:consume': { from: ['agent'], joined: true },
} as const satisfies { readonly [E in keyof typeof clientEventSchemas]: EventAccess };

type Payload<E extends keyof typeof clientEventSchemas> = Static<(typeof clientEventSchemas)[E]>;

interface ClientReplies {
  'session:join': JoinReply;
  'session:leave': Record<string, never>;
  'transport:create': TransportInfo;
  'transport:connect': Record<string, never>;
  'transport:restart-ice': { iceParameters: TransportInfo['iceParameters'] };
  'producer:create': { producerId: string };
  'producer:pause': Record<string, never>;
  'producer:resume': Record<string, never>;
  'producer:close': Record<string, never>;
  'consumer:create': ConsumerInfo;
  'consumer:resume': Record<string, never>;
  'agent:join': AgentJoinReply;
  'agent:health': Record<string, never>;
  'agent:publish': { targets: PlainPublishTarget[] };
  'agent:consume': PlainConsumerInfo;
}
export type ClientEventName = keyof typeof clientEventSchemas;
export type ClientReply<E extends ClientEventName> = ClientReplies[E];
export type ClientPayload<E extends ClientEventName> = Payload<E>;

export type ClientToServerEvents = {
  [E in ClientEventName]: (payload: Payload<E>, ack: Ack<ClientReplies[E]>) => void;
};

// ---------------------------------------------------------------------------
// Server → client events
export interface ServerToClientEvents {
  'session:state': (session: SessionView) => void;
  'party:joined': (party: PartyView) => void;
  'party:left': (party: { partyId: string; reason: string }) => void;
  'producer:added': (producer: ProducerView) => void;
  'producer:removed': (producer: { producerId: string; partyId: string }) => void;
  'producer:paused': (producer: { producerId: string; partyId: string }) => void;
  'producer:resumed': (producer: { producerId: string; partyId: string }) => void;
  'consumer:closed': (consumer: { consumerId: string; producerId: string }) => void;
  'session:closed': (info: { sessionId: string; reason: string }) => void;
  /** To a party: its window ended; the server removes it at removeAt (ISO). */
  'party:window-ending': (info: { partyId: string; removeAt: string }) => void;
  /** To a room agent: a session opened (or closed: sessionId null) for its room. */
  'agent:session': (info: { sessionId: string | null }) => void;
  /** To schedule boards: something of that day changed; fetch it again. */
  'schedule:changed': (change: { date: string; bookingIds: string[]; reason: string }) => void;
  /** To schedule boards: a party of a booking was told something (moved, cancelled, displaced). */
  'schedule:notice': (notice: { bookingId: string; recipient: string; message: string }) => void;
  /** To schedule boards: a room agent's connection was refused as a possible impostor (a second connection with its credential, or one from an address it is not bound to). */
  'agent:alert': (alert: AgentAlert) => void;
  /** The recording disk's free space crossed the reserve (new sessions refused) or the stop floor, or recovered. */
  'recording:disk': (notice: { level: 'ok' | 'low' | 'critical'; freeBytes: number; reserveBytes: number; message: string; at: string }) => void;
}
