// Configuration: config/default.json, then (only for the embedded demo, `npm start`)
// config/demo.json, then an optional overlay file (PLEA_CONFIG), then environment
// overrides; validated at start. An invalid config stops the
// server with a message that names the field.
import { isAddressOrRange } from './access/agent-address.js';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Type, { type Static } from 'typebox';
import { checker } from './validation.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const RoomKind = Type.Union([Type.Literal('interrogation'), Type.Literal('plea')]);
export type RoomKind = Static<typeof RoomKind>;

const Id = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });

export const RoomConfig = Type.Object(
  {
    id: Id,
    kind: RoomKind,
    name: Type.String({ minLength: 1, maxLength: 64 }),
    nameEn: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false }
);
export type RoomConfig = Static<typeof RoomConfig>;

export const ConfigSchema = Type.Object(
  {
    site: Type.Object(
      {
        name: Type.String({ minLength: 1 }),
        timeZone: Type.String({ minLength: 1 }),
        rooms: Type.Array(RoomConfig, { minItems: 1, maxItems: 200 }),
      },
      { additionalProperties: false }
    ),
    schedule: Type.Object(
      {
        /** ISO weekday (1 = Monday) → working windows "HH:MM-HH:MM". */
        weeklyWindows: Type.Record(Type.String({ pattern: '^[1-7]$' }), Type.Array(Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d-([01]\\d|2[0-4]):[0-5]\\d$' }), { maxItems: 8 })),
        slotMinutes: Type.Integer({ minimum: 1, maximum: 60 }),
        escortBeforeMin: Type.Integer({ minimum: 0, maximum: 120 }),
        changeoverAfterMin: Type.Integer({ minimum: 0, maximum: 120 }),
        joinOpensMinutesBefore: Type.Integer({ minimum: 0, maximum: 240 }),
        joinClosesMinutesAfter: Type.Integer({ minimum: 0, maximum: 480 }),
        designedSessionsPerBlock: Type.Integer({ minimum: 1, maximum: 10000 }),
        overrunCheckSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
        overrunStepMinutes: Type.Integer({ minimum: 1, maximum: 60 }),
        /** Bookings, roster shifts and reserved windows may be written for dates from this many days back… */
        horizonDaysBack: Type.Integer({ minimum: 0, maximum: 366 }),
        /** …to this many days ahead of the site's today. */
        horizonDaysAhead: Type.Integer({ minimum: 1, maximum: 3660 }),
      },
      { additionalProperties: false }
    ),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
        publicUrl: Type.String(),
        /** HTTPS/WSS: "files" (certFile, keyFile), "self-signed" (generated once into the data directory, for development), or "off" (plain HTTP, e.g. behind a TLS proxy or on 127.0.0.1 in tests). */
        tls: Type.Object(
          { mode: Type.Union([Type.Literal('off'), Type.Literal('files'), Type.Literal('self-signed')]), certFile: Type.String(), keyFile: Type.String() },
          { additionalProperties: false }
        ),
        /** Trust X-Forwarded-For from a reverse proxy: false, true, or the proxy's address(es) comma-separated. */
        trustProxy: Type.Union([Type.Boolean(), Type.String()]),
        /** Origins (besides the server's own) whose pages may open Socket.io connections. */
        allowedOrigins: Type.Array(Type.String(), { maxItems: 16 }),
      },
      { additionalProperties: false }
    ),
    media: Type.Object(
      {
        workers: Type.Integer({ minimum: 0, maximum: 64 }),
        listenIp: Type.String({ minLength: 1 }),
        announcedAddress: Type.String(),
        rtcMinPort: Port,
        rtcMaxPort: Port,
        plainListenIp: Type.String({ minLength: 1 }),
        disableLiburing: Type.Boolean(),
        /** Room agents' media unencrypted (plain RTP) instead of SRTP: an explicit switch, warned about at start. */
        agentPlainRtp: Type.Boolean(),
      },
      { additionalProperties: false }
    ),
    recording: Type.Object(
      {
        /** Length of each original's segment: a crash loses at most the one being written. */
        segmentSeconds: Type.Integer({ minimum: 2, maximum: 3600 }),
        /** Below this much free space on the data disk, new sessions are refused. */
        diskReserveMiB: Type.Integer({ minimum: 0 }),
        /** Below this, running recordings close their segments cleanly and pause (never cut short by a full disk). */
        diskStopMiB: Type.Integer({ minimum: 0 }),
        diskCheckSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
        /** Delay before a recorder ffmpeg that ended by itself is restarted. */
        restartDelayMs: Type.Integer({ minimum: 0, maximum: 60000 }),
        /** UDP ports (pairs) on which the recorder's ffmpeg receives RTP from mediasoup. */
        rtpMinPort: Port,
        rtpMaxPort: Port,
      },
      { additionalProperties: false }
    ),
    dataDir: Type.String({ minLength: 1 }),
    ffmpegPath: Type.String(),
    logLevel: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')]),
    access: Type.Object(
      {
        joinSecret: Type.String(),
        agentCredentials: Type.Record(Type.String(), Type.String({ minLength: 16 })),
        /**
         * Room id → the addresses (IPs or CIDRs) its agent may connect from; a room
         * not named here is not bound. The initial binding: the administrator's
         * changes (REST) are kept in secrets.json and win over it.
         */
        agentAddresses: Type.Record(Type.String(), Type.Array(Type.String({ minLength: 2, maxLength: 64 }), { maxItems: 16 })),
      },
      { additionalProperties: false }
    ),
    limits: Type.Object(
      {
        /** Socket.io events per connection: sustained rate and burst (token bucket). */
        eventsPerSecond: Type.Integer({ minimum: 1, maximum: 100000 }),
        eventBurst: Type.Integer({ minimum: 1, maximum: 100000 }),
        /** Joins (session:join, agent:join) per connection per minute: a join/leave loop is refused, not audited 600 times a second. */
        joinsPerMinute: Type.Integer({ minimum: 1, maximum: 100000 }),
        /** HTTP requests per client address per minute. */
        httpPerMinute: Type.Integer({ minimum: 1, maximum: 1000000 }),
        /** Largest HTTP body accepted, bytes (routes that take files set their own). */
        httpBodyBytes: Type.Integer({ minimum: 1024, maximum: 1073741824 }),
      },
      { additionalProperties: false }
    ),
    audit: Type.Object(
      {
        /** How often the signed head of the audit trail is exported (audit-heads.jsonl and the log). */
        headExportSeconds: Type.Integer({ minimum: 1, maximum: 86400 }),
      },
      { additionalProperties: false }
    ),
    demo: Type.Object(
      { syntheticAgents: Type.Boolean(), standingSessions: Type.Boolean() },
      { additionalProperties: false }
    ),
    evidence: Type.Object(
      {
        /** Where disc images are built (relative to the repository, or absolute); empty: <dataDir>/evidence. */
        outDir: Type.String(),
        /** The medium discs are planned for: a key of `media`. */
        medium: Type.String({ pattern: '^[a-z0-9-]{1,32}$' }),
        /** Usable bytes per disc of each medium (cd 703 MiB, dvd 4.7 GB, bd 25 GB; a site may add its own). */
        media: Type.Record(Type.String({ pattern: '^[a-z0-9-]{1,32}$' }), Type.Integer({ minimum: 1 << 20 })),
        /** Bytes kept free on each disc for the note, manifest, guide, index and file-system tables. */
        discReserveBytes: Type.Integer({ minimum: 1 << 16 }),
        /** Drive name → device: '/dev/sr0', or 'stdio:/path/file' (xorriso's pseudo-drive, writes to a file). */
        drives: Type.Record(Type.String({ pattern: '^[a-z0-9-]{1,32}$' }), Type.String({ minLength: 1, maxLength: 512 })),
        /** Debian's Chromium, which prints the note's PDF. */
        chromiumPath: Type.String({ minLength: 1 }),
        /**
         * How long after a booking's end its room agent's evidence segments are still taken: the agent keeps
         * segments through a network drop and sends them when it is back (a late one makes built images stale).
         */
        uploadGraceMinutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60 }),
      },
      { additionalProperties: false }
    ),
  },
  { additionalProperties: false }
);
export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`invalid config: ${message}`);
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge of plain objects; arrays and scalars from `over` replace those in `base`. */
export function mergeConfig(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = Object.hasOwn(out, k) ? out[k] : undefined;
    // defineProperty: a "__proto__" key from a JSON file stays a plain (refused) key.
    Object.defineProperty(out, k, { value: isObject(b) && isObject(v) ? mergeConfig(b, v) : v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const envOverrides: Array<[string, string, 'string' | 'int' | 'bool']> = [
  ['PLEA_HOST', 'http.host', 'string'],
  ['PLEA_PORT', 'http.port', 'int'],
  ['PLEA_PUBLIC_URL', 'http.publicUrl', 'string'],
  ['PLEA_TLS', 'http.tls.mode', 'string'],
  ['PLEA_TLS_CERT', 'http.tls.certFile', 'string'],
  ['PLEA_TLS_KEY', 'http.tls.keyFile', 'string'],
  ['PLEA_WORKERS', 'media.workers', 'int'],
  ['PLEA_LISTEN_IP', 'media.listenIp', 'string'],
  ['PLEA_ANNOUNCED_ADDRESS', 'media.announcedAddress', 'string'],
  ['PLEA_RTC_MIN_PORT', 'media.rtcMinPort', 'int'],
  ['PLEA_RTC_MAX_PORT', 'media.rtcMaxPort', 'int'],
  ['PLEA_AGENT_PLAIN_RTP', 'media.agentPlainRtp', 'bool'],
  ['PLEA_DATA_DIR', 'dataDir', 'string'],
  ['PLEA_FFMPEG', 'ffmpegPath', 'string'],
  ['PLEA_LOG_LEVEL', 'logLevel', 'string'],
  ['PLEA_JOIN_SECRET', 'access.joinSecret', 'string'],
  ['PLEA_SYNTHETIC_AGENTS', 'demo.syntheticAgents', 'bool'],
  ['PLEA_EVIDENCE_MEDIUM', 'evidence.medium', 'string'],
  ['CHROMIUM_PATH', 'evidence.chromiumPath', 'string'],
];

function setPath(target: Json, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (!Object.hasOwn(node, part) || !isObject(node[part])) node[part] = {};
    node = node[part] as Json;
  }
  node[parts[parts.length - 1] as string] = value;
}

function parseEnvValue(name: string, field: string, raw: string, type: 'string' | 'int' | 'bool'): unknown {
  if (type === 'string') return raw;
  if (type === 'int') {
    if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(field, `${field} (from ${name}) must be an integer, got "${raw}"`);
    return Number(raw);
  }
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(field, `${field} (from ${name}) must be true or false, got "${raw}"`);
}

function readJson(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isObject(parsed)) throw new Error('not a JSON object');
    return parsed;
  } catch (err) {
    throw new ConfigError('(file)', `${file} is not valid JSON: ${(err as Error).message}`);
  }
}

const configChecker = checker(ConfigSchema);

export function firstLanAddress(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * The embedded demo (`server/main.ts --demo`): config/demo.json over the defaults
   * (loopback only, synthetic room agents, a working day around the clock), below
   * the operator's PLEA_CONFIG file and the environment, which still say otherwise.
   */
  demo?: boolean;
  /** Applied after the files and before the environment (tests use this). */
  overrides?: Json;
}

/**
 * `access.staffKeys`, the shared staff keys of before accounts. An empty leftover
 * (copied from an old default.json) grants nothing and is dropped. A configured key
 * would otherwise stop working unnoticed for whoever holds it (a person, a case
 * system): the server refuses to start and says what to do instead.
 */
function dropStaffKeys(raw: Json): void {
  const access = raw['access'];
  if (!isObject(access) || !Object.hasOwn(access, 'staffKeys')) return;
  const keys = access['staffKeys'];
  if (isObject(keys) && Object.keys(keys).length === 0) {
    delete access['staffKeys'];
    return;
  }
  throw new ConfigError(
    'access.staffKeys',
    'access.staffKeys (shared staff keys) is no longer supported and grants nothing: give each member of staff their own account with the role detention_staff (administrator: POST /api/admin/users), give each machine client an API token with the scopes it needs (POST /api/admin/tokens: schedule:read, bookings:write), then remove access.staffKeys from the config'
  );
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  let raw = readJson(path.join(repoRoot, 'config', 'default.json'));
  if (options.demo) raw = mergeConfig(raw, readJson(path.join(repoRoot, 'config', 'demo.json')));
  if (env['PLEA_CONFIG']) raw = mergeConfig(raw, readJson(path.resolve(env['PLEA_CONFIG'])));
  if (options.overrides) raw = mergeConfig(raw, options.overrides);
  for (const [name, field, type] of envOverrides) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(raw, field, parseEnvValue(name, field, v, type));
  }
  dropStaffKeys(raw);
  const checked = configChecker.check(raw);
  if (!checked.ok) throw new ConfigError(checked.field, checked.message);
  const config = checked.value;
  // Synthetic agents connect with every room's real credential: in a production start they take each room's agent
  // place (the room PC is refused as a second connection) and a hearing is recorded from a test pattern.
  if (config.demo.syntheticAgents && !options.demo) {
    throw new ConfigError('demo.syntheticAgents', 'demo.syntheticAgents (PLEA_SYNTHETIC_AGENTS) is for the embedded demo only (npm start): it would put a synthetic agent in every room\'s place; remove it, and run a room agent on each room PC (npm run room-agent)');
  }
  if (config.media.rtcMinPort > config.media.rtcMaxPort) {
    throw new ConfigError('media.rtcMinPort', 'media.rtcMinPort must not be above media.rtcMaxPort');
  }
  if (config.recording.rtpMinPort % 2 !== 0 || config.recording.rtpMinPort + 2 > config.recording.rtpMaxPort) {
    throw new ConfigError('recording.rtpMinPort', 'recording.rtpMinPort must be even and below recording.rtpMaxPort');
  }
  if (config.recording.diskStopMiB > config.recording.diskReserveMiB) {
    throw new ConfigError('recording.diskStopMiB', 'recording.diskStopMiB must not be above recording.diskReserveMiB');
  }
  const ids = new Set<string>();
  config.site.rooms.forEach((room, i) => {
    if (ids.has(room.id)) throw new ConfigError(`site.rooms[${i}].id`, `site.rooms[${i}].id "${room.id}" is used twice`);
    ids.add(room.id);
  });
  for (const roomId of Object.keys(config.access.agentAddresses)) {
    if (!ids.has(roomId)) throw new ConfigError(`access.agentAddresses.${roomId}`, `access.agentAddresses.${roomId} names no configured room`);
    const bad = config.access.agentAddresses[roomId]!.find((a) => !isAddressOrRange(a));
    if (bad !== undefined) throw new ConfigError(`access.agentAddresses.${roomId}`, `access.agentAddresses.${roomId}: ${JSON.stringify(bad)} is not an IP address or CIDR range`);
  }
  for (const roomId of Object.keys(config.access.agentCredentials)) {
    if (!ids.has(roomId)) throw new ConfigError(`access.agentCredentials.${roomId}`, `access.agentCredentials.${roomId} names no configured room`);
  }
  for (const [day, windows] of Object.entries(config.schedule.weeklyWindows)) {
    windows.forEach((w, i) => {
      const [from, to] = w.split('-') as [string, string];
      if (from >= to) throw new ConfigError(`schedule.weeklyWindows.${day}[${i}]`, `schedule.weeklyWindows.${day}[${i}] ends before it starts`);
    });
  }
  if (!Object.hasOwn(config.evidence.media, config.evidence.medium)) {
    throw new ConfigError('evidence.medium', `evidence.medium "${config.evidence.medium}" is not one of evidence.media (${Object.keys(config.evidence.media).join(', ')})`);
  }
  config.dataDir = path.resolve(repoRoot, config.dataDir);
  config.evidence.outDir = config.evidence.outDir ? path.resolve(repoRoot, config.evidence.outDir) : path.join(config.dataDir, 'evidence');
  // Listening on every address without an announced one would hand browsers an
  // unusable 0.0.0.0 ICE candidate: announce this host's first LAN address
  // (loopback when it has none). Set PLEA_ANNOUNCED_ADDRESS behind NAT.
  if (!config.media.announcedAddress && (config.media.listenIp === '0.0.0.0' || config.media.listenIp === '::')) {
    config.media.announcedAddress = firstLanAddress();
  }
  return config;
}
