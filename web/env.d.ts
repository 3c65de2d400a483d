// Test hooks that headless Chromium tests (and the join benchmark) drive on
// the session page: window.__pleaSession. Kept global so the tests can copy
// the shapes; implemented in src/session/session-client.ts.

type PleaSocketState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

interface PleaSessionState {
  socket: PleaSocketState;
  joined: boolean;
  partyId: string | null;
  /** How many session:join requests succeeded so far (1 after the first join, +1 per rejoin). */
  joins: number;
  /** Producers of other parties known in the current session. */
  remoteProducers: number;
  /** Consumers created and live (not pending, not closed). */
  consumers: number;
}

interface PleaRemoteStat {
  producerId: string;
  partyId: string;
  role: string;
  kind: 'audio' | 'video';
  framesDecoded: number;
  packetsReceived: number;
  totalSamplesReceived: number;
  /** Samples the jitter buffer made up (no packet to play): totalSamplesReceived includes them. */
  concealedSamples: number;
  bytesReceived: number;
}

interface PleaLocalStat {
  kind: 'audio' | 'video';
  packetsSent: number;
  bytesSent: number;
}

interface PleaSessionTestHooks {
  state(): PleaSessionState;
  remoteStats(): Promise<PleaRemoteStat[]>;
  localStats(): Promise<PleaLocalStat[]>;
  /** performance.now() when the latest session:join request was emitted. */
  readonly joinedAtMs: number | null;
  /** performance.now() when the first remote video frame was decoded after that join. */
  readonly firstRemoteFrameAtMs: number | null;
  /** Join now (with ?autojoin=0 the page waits for this); resolves when the join is complete. */
  join(): Promise<void>;
}

interface Window {
  __pleaSession?: PleaSessionTestHooks;
}
