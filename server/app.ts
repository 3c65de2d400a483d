// Composition of the server: store, media, sessions, signalling and HTTP on one
// port. `startServer` is used by main.ts, the tests and the benchmarks.
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { createRootLogger, componentLogger, type Logger } from './logger.js';
import { openDatabase, type Db } from './db/database.js';
import { AuditTrail } from './audit/audit-trail.js';
import { WorkerPool } from './media/worker-pool.js';
import { SessionStore } from './session/session-store.js';
import { SessionRegistry } from './session/session-registry.js';
import { Signalling } from './signalling/socket-server.js';
import { JoinTokens } from './access/join-token.js';
import { auditKeysOf, loadSecrets, restrictToOwner, type Secrets } from './access/secrets.js';
import { buildHttp } from './http/app.js';
import { tlsFor } from './http/tls.js';
import { AgentCredentials } from './access/agent-credentials.js';
import { agentCredentialRoutes } from './http/agent-credential-routes.js';
import { AuditThrottle } from './audit/audit-throttle.js';
import { actorOf, type AccessRegistry } from './access/authorization.js';
import { AccountStore } from './access/account-store.js';
import { Accounts } from './access/accounts.js';
import { authRoutes, readSessionCookie, sessionCookie } from './http/auth-routes.js';
import { JoinRules } from './access/join-rules.js';
import { GuestLinks, guestCookie, parseGuestCookie } from './access/guest-links.js';
import { guestRoutes } from './http/guest-routes.js';
import { adminRoutes } from './http/admin-routes.js';
import { meRoutes } from './http/me-routes.js';
import { departmentRoutes } from './http/department-routes.js';
import { DepartmentAllowances } from './access/department-allowances.js';
import { siteRoutes } from './http/site-routes.js';
import { scheduleRoutes } from './http/schedule-routes.js';
import { ScheduleStore } from './schedule/schedule-store.js';
import { ScheduleService } from './schedule/schedule-service.js';
import { RecordingStore } from '../recordings/recording-store.js';
import { evidenceUploadRoutes } from './http/evidence-upload-routes.js';
import { EvidenceIntake } from '../recordings/evidence-intake.js';
import { agentFromAuthorization } from './access/agent-http-auth.js';
import { EvidenceGapWatch } from '../recordings/evidence-gap-watch.js';
import { EvidenceService } from '../recordings/disc/evidence-service.js';
import { evidenceRoutes } from './http/evidence-routes.js';
import { JobStreams } from './http/job-streams.js';
import { clerkRoutes } from './http/clerk-routes.js';
import { findFfmpeg } from './media/ffmpeg-binary.js';
import type { SiteClock } from './schedule/site-clock.js';
import { Recorder } from '../recordings/recorder.js';

export interface RunningServer {
  config: Config;
  url: string;
  port: number;
  log: Logger;
  db: Db;
  audit: AuditTrail;
  pool: WorkerPool;
  registry: SessionRegistry;
  signalling: Signalling;
  tokens: JoinTokens;
  secrets: Secrets;
  /** Room agents' credentials: rotate and revoke without a restart. */
  agentCredentials: AgentCredentials;
  http: FastifyInstance;
  /** Every REST route with its declared access rule. */
  access: AccessRegistry;
  accounts: Accounts;
  /** Department heads and their allowances. */
  departments: DepartmentAllowances;
  /** Guest links: a booking's guests without accounts. */
  guestLinks: GuestLinks;
  schedule: ScheduleService;
  recordings: RecordingStore;
  /** Disc sets, burning and custody of finished recordings. */
  evidence: EvidenceService;
  recorder: Recorder;
  close(): Promise<void>;
}

export interface StartOptions {
  /** The detention centre's wall clock (default: the real one in config.site.timeZone); tests set the site's hour. */
  clock?: SiteClock;
  /** How often live signed-in sockets are re-checked for an ended login session (default 15 s; a sign-out ends them at once anyway). */
  recheckSeconds?: number;
}

export async function startServer(config: Config, logger?: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const log = logger ?? createRootLogger(config.logLevel);
  const secrets = loadSecrets(config, log);
  const dbFile = path.join(config.dataDir, 'plea.sqlite');
  const db = openDatabase(dbFile);
  // The data directory and the database files are the owner's only, at every start.
  restrictToOwner(config.dataDir, 0o700);
  for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) restrictToOwner(f);
  const audit = new AuditTrail(db, { keys: auditKeysOf(secrets), headFile: path.join(config.dataDir, 'audit-heads.jsonl'), log: componentLogger(log, 'audit') });
  const store = new SessionStore(db, audit);
  const stale = store.closeStale();
  if (stale) log.warn({ sessions: stale }, 'closed sessions left open by a previous run');
  seedRooms(db, config, audit);
  if (config.media.agentPlainRtp) log.warn('media.agentPlainRtp is on: room agents may send and receive plain RTP, unencrypted on the network');

  const tokens = new JoinTokens(secrets.joinSecret);
  const pool = await WorkerPool.create(
    { workers: config.media.workers, rtcMinPort: config.media.rtcMinPort, rtcMaxPort: config.media.rtcMaxPort, disableLiburing: config.media.disableLiburing },
    componentLogger(log, 'media')
  );
  const registry = new SessionRegistry(config, pool, store, componentLogger(log, 'session'));

  let closing = false;
  let url = '';
  // Fastify owns the HTTP server; Socket.io attaches to it before listening.
  const accounts = new Accounts(db, new AccountStore(db, audit), secrets.cookieSecret, componentLogger(log, 'accounts'));
  const agentCredentials = new AgentCredentials(secrets, path.join(config.dataDir, 'secrets.json'), audit, new Set(config.site.rooms.map((r) => r.id)));
  const httpLog = componentLogger(log, 'http');
  const httpRefusals = new AuditThrottle(audit, { burst: 10, windowMs: 60_000 });
  const tls = await tlsFor(config);
  /** The bearer credential of an Authorization header, or null when it is not `Bearer <token>`. */
  const bearerOf = (header: string | undefined): string | null => /^Bearer\s+(\S{1,512})$/i.exec(header ?? '')?.[1] ?? null;
  const apiTokenPrincipal = (token: string) => (Accounts.looksLikeApiToken(token) ? accounts.principalForApiToken(token) : null);
  const { app: http, registry: access } = await buildHttp(httpLog, {
    cookieSecret: secrets.cookieSecret,
    // Who calls: an Authorization header (API token, agent credential) or else the session cookie.
    authenticate: (req) => {
      const header = req.headers.authorization;
      if (header) {
        const bearer = bearerOf(header);
        // Only API tokens: the shared staff key of before accounts is no credential any more.
        if (bearer !== null) return apiTokenPrincipal(bearer);
        const agent = agentFromAuthorization(header, (roomId) => agentCredentials.get(roomId));
        return agent ? { kind: 'agent', roomId: agent.roomId } : null;
      }
      const cookie = readSessionCookie(req);
      return cookie ? accounts.principalForSession(cookie) : null;
    },
    csrfValid: (req, principal) => {
      const given = req.headers['x-csrf-token'];
      return accounts.csrfValid(principal, typeof given === 'string' ? given : undefined);
    },
    refused: (req, principal, decision) => {
      try {
        audit.append({
          actor: actorOf(principal),
          action: 'access.refused',
          subject: `route:${req.method} ${req.routeOptions.url ?? req.url}`,
          detail: { status: decision.status, why: decision.message, remoteAddress: req.ip },
        });
      } catch (err) {
        req.log.error({ err }, 'cannot audit a refused request');
      }
    },
  }, [], {
    https: tls,
    trustProxy: config.http.trustProxy,
    bodyLimit: config.limits.httpBodyBytes,
    rateLimitPerMinute: config.limits.httpPerMinute,
    onRateLimited: (req) => {
      try {
        httpRefusals.append(`http:${req.ip}`, { actor: 'anonymous', action: 'limit.refused', subject: `route:${req.method} ${req.routeOptions.url ?? ''}`, detail: { why: 'HTTP rate', remoteAddress: req.ip } });
      } catch (err) {
        req.log.error({ err }, 'cannot audit a rate-limited request');
      }
    },
  });
  const signalling = new Signalling(http.server, {
    registry,
    store,
    tokens,
    agentCredentials,
    audit,
    log: componentLogger(log, 'signalling'),
    timeZone: config.site.timeZone,
    caseNumberOf: (bookingId) => schedule.store.row(bookingId)?.case_number ?? null,
    limits: config.limits,
    allowedOrigins: config.http.allowedOrigins,
    trustProxy: config.http.trustProxy,
    agentPlainRtp: config.media.agentPlainRtp,
    personFromCookie: (header) => {
      if (!header) return null;
      const raw = http.parseCookie(header)[sessionCookie];
      if (!raw) return null;
      const unsigned = http.unsignCookie(raw);
      const p = unsigned.valid && unsigned.value ? accounts.principalForSession(unsigned.value) : null;
      return p?.kind === 'user' ? p : null;
    },
    personStill: (loginSessionId, touch) => accounts.principalForLoginSession(loginSessionId, touch),
    ...(options.recheckSeconds ? { recheckSeconds: options.recheckSeconds } : {}),
    guestFromCookie: (header) => {
      if (!header) return null;
      const raw = http.parseCookie(header)[guestCookie];
      if (!raw) return null;
      const unsigned = http.unsignCookie(raw);
      const held = unsigned.valid && unsigned.value ? parseGuestCookie(unsigned.value) : null;
      return held ? guestLinks.holderFor(held.linkId, held.deviceSecret) : null;
    },
    guestLinks: { current: (linkId) => guestLinks.current(linkId) },
    joinRules: { forPerson: (person, bookingId, now) => joinRules.forPerson(person, bookingId, now), forGuest: (link, bookingId, now) => joinRules.forGuest(link, bookingId, now) },
  });
  // Signing out (here or everywhere) or an account change ends that person's live sockets at once.
  accounts.onPersonChanged((userId) => signalling.recheckPeople(userId));
  const schedule = new ScheduleService(new ScheduleStore(db, audit, config), config, registry, componentLogger(log, 'schedule'), options.clock);
  accounts.namedOnOpenBooking = (personId) => schedule.store.namesPersonOnOpenBooking(personId);
  // On the site's clock, as the join rules that ask it.
  const departments = new DepartmentAllowances(db, accounts.store, audit, () => new Date(schedule.clock.nowMs()));
  const joinRules = new JoinRules(schedule, config, departments);
  const guestLinks = new GuestLinks({
    db,
    audit,
    booking: (id) => schedule.store.row(id) ?? null,
    window: (row) => joinRules.window(row),
    lawyerHasAccount: (lawyerId) => accounts.store.user(lawyerId)?.roles.includes('defence_lawyer') ?? false,
    nowMs: () => schedule.clock.nowMs(),
  });
  // A revoked link's live party goes at once (told, then removed).
  guestLinks.on('revoked', ({ linkId }) => signalling.removeGuest(linkId));
  schedule.on('changed', (change) => signalling.toBoards('schedule:changed', change));
  schedule.on('notice', (notice) => signalling.toBoards('schedule:notice', notice));
  const recordings = new RecordingStore(db, audit);
  // The room agent's evidence video: an agent that drops out of a booking's session is a gap.
  new EvidenceGapWatch(registry, recordings, componentLogger(log, 'evidence'));
  const evidence = new EvidenceService({
    db, audit, config, recordings, schedule: schedule.store, evidenceKeyPem: secrets.evidenceKeyPem, ffmpegPath: findFfmpeg(config.ffmpegPath).path,
  });
  // Evidence progress streams outlive their request: their callers are checked again (job-streams.ts).
  const jobStreams = new JobStreams(
    (was, req) => {
      if (was.kind === 'user') return accounts.principalForLoginSession(was.loginSessionId);
      if (was.kind === 'api-token') {
        const bearer = bearerOf(req.headers.authorization);
        return bearer === null ? null : apiTokenPrincipal(bearer);
      }
      return null;
    },
    (p, why) => audit.record({ actor: actorOf(p), action: 'limit.refused', subject: 'route:GET /api/evidence/jobs/:jobId/events', detail: { why } })
  );
  accounts.onPersonChanged((userId) => jobStreams.recheckPerson(userId));
  await http.register(evidenceRoutes(evidence, jobStreams));
  await http.register(clerkRoutes(evidence));
  const intake = new EvidenceIntake({
    window: (id) => {
      const b = schedule.store.row(id);
      if (!b) return null;
      return {
        roomId: b.room_id,
        opensAt: schedule.clock.toEpochMs(b.date, b.start_min - b.escort_before_min),
        scheduledEnd: schedule.clock.toEpochMs(b.date, b.end_min),
        live: b.status === 'escorting' || b.status === 'in_room' || b.status === 'in_session',
      };
    },
    recordings,
    sealed: (id) => evidence.custody.events(id).some((e) => e.kind === 'sealed'),
    hasImages: (id) => evidence.custody.discImages(id).length > 0,
    audit,
    now: () => schedule.clock.nowMs(),
    graceMs: config.evidence.uploadGraceMinutes * 60_000,
  });
  await http.register(evidenceUploadRoutes({ dataDir: config.dataDir, recordings, intake }));
  const recorder = new Recorder({
    config: { ...config.recording, dataDir: config.dataDir, ffmpegPath: findFfmpeg(config.ffmpegPath).path, listenIp: config.media.plainListenIp },
    registry,
    store: recordings,
    db,
    audit,
    log: componentLogger(log, 'recorder'),
    bookingLive: (bookingId) => {
      const status = schedule.store.row(bookingId)?.status;
      return status === 'in_room' || status === 'in_session';
    },
  });
  recorder.on('disk', (notice) => signalling.toBoards('recording:disk', notice));
  await http.register(agentCredentialRoutes({ credentials: agentCredentials, rooms: config.site.rooms, disconnect: (roomId) => signalling.disconnectAgent(roomId), online: (roomId) => signalling.agentStatus(roomId).online, enforceAddress: (roomId) => signalling.enforceAgentAddress(roomId) }));
  await http.register(siteRoutes({ config, registry, signalling, audit, roomStatuses: () => schedule.store.roomStatuses() }));
  await http.register(scheduleRoutes(schedule));
  await http.register(
    guestRoutes({
      guestLinks,
      joinRules,
      nowMs: () => schedule.clock.nowMs(),
      live: (linkId) => registry.list().some((s) => s.partyList().some((p) => p.identity.personKey === `guest:${linkId}`)),
      publicUrl: () => url,
    })
  );
  await http.register(authRoutes(accounts));
  await http.register(adminRoutes(accounts));
  await http.register(departmentRoutes(departments));
  await http.register(meRoutes({ joinRules, config, sessionOpen: (bookingId) => registry.forBooking(bookingId) !== undefined }));
  try {
    await http.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    // Nothing may be left running when the port cannot be had.
    await signalling.close().catch(() => undefined);
    pool.close();
    db.close();
    throw err;
  }
  const port = (http.server.address() as AddressInfo).port;
  const shownHost = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
  url = config.http.publicUrl || `${tls ? 'https' : 'http'}://${shownHost}:${port}`;
  schedule.startOverrunWatch();
  schedule.startOrphanSweep();
  audit.exportHead(true);
  audit.startExport(config.audit.headExportSeconds * 1000);

  // Recordings a previous run left open are taken up before their sessions reopen.
  await recorder.start();
  // Bookings in their room before a restart get their sessions back first.
  const reopened = await schedule.reopenLiveSessions();
  if (reopened.length) log.warn({ bookings: reopened }, 'reopened the sessions of bookings in their rooms');
  schedule.watchForLostSessions();

  // Standing sessions (a session per room without a booking, joined by links made in code) are
  // for tests and benchmarks only: off in every shipped config, and no route hands out their links.
  if (config.demo.standingSessions) {
    for (const room of config.site.rooms) if (!registry.forRoom(room.id)) await registry.open(room.id, null, 'demo');
    // A room without a session gets its standing one back (its worker died, or
    // a booking's session ended); a booking's session replaces it meanwhile.
    registry.on('closed', (session, reason) => {
      if (closing || reason === 'replaced_by_booking') return;
      // A booking's session lost with its worker is the schedule's to reopen.
      if (session.bookingId && reason === 'worker_died') return;
      setTimeout(() => {
        if (closing || registry.forRoom(session.room.id)) return;
        void registry.open(session.room.id, null, 'demo').catch((err: unknown) => log.error({ err }, 'cannot reopen standing session'));
      }, reason === 'worker_died' ? 2000 : 0).unref();
    });
  }

  return {
    config, url, port, log, db, audit, pool, registry, signalling, tokens, secrets, agentCredentials, http, access, accounts, departments, guestLinks, schedule, recordings, evidence, recorder,
    async close() {
      if (closing) return;
      closing = true;
      schedule.stop();
      registry.closeAll('server_stopping');
      // Every track's last segment is closed, hashed and in the chain before the store closes.
      await recorder.close();
      await signalling.close();
      try {
        guestLinks.flush();
      } catch (err) {
        log.error({ err }, 'cannot write the suppressed guest-link refusal counts');
      }
      await http.close();
      pool.close();
      try {
        audit.stopExport();
        audit.exportHead();
      } catch (err) {
        log.error({ err }, 'cannot export the audit head');
      }
      db.close();
    },
  };
}

function seedRooms(db: Db, config: Config, audit: AuditTrail): void {
  db.transaction(() => {
    const upsert = db.prepare(
      `INSERT INTO rooms (id, kind, name, name_en) VALUES (?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, name = excluded.name, name_en = excluded.name_en
       WHERE rooms.kind <> excluded.kind OR rooms.name <> excluded.name OR rooms.name_en <> excluded.name_en`
    );
    for (const room of config.site.rooms) {
      const res = upsert.run(room.id, room.kind, room.name, room.nameEn);
      if (res.changes > 0) audit.append({ actor: 'config', action: 'room.configured', subject: `room:${room.id}`, detail: { ...room } });
    }
  })();
}
