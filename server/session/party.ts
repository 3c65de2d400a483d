// A party of a session (the room, the prosecutor, the lawyer, a guest). The
// party owns its transports; a transport owns its producers and consumers, so
// closing the party closes everything it had in the router.
import { randomUUID } from 'node:crypto';
import { MAX_CONSUMERS_PER_PARTY, MAX_PLAIN_CONSUMERS_PER_PARTY } from './limits.js';
import type { types } from 'mediasoup';
import { TypedEmitter } from '../events.js';
import type { PartyLeaveReason } from './close-reason.js';
import type {
  ConsumerInfo,
  DtlsParameters,
  MediaKind,
  PartyRole,
  PartyView,
  PlainConsumerInfo,
  PlainPublishTarget,
  PlainTrack,
  ProducerView,
  RtpCapabilities,
  RtpParameters,
  TrackSource,
  TransportInfo,
} from '../signalling/protocol.js';
import { SRTP_SUITE } from '../signalling/protocol.js';

export interface TransportListen {
  listenIp: string;
  announcedAddress: string;
  plainListenIp: string;
}

/** Failure caused by the caller's request (answered as an error, never a crash). */
export class RequestError extends Error {
  constructor(readonly code: 'bad_request' | 'not_found' | 'forbidden' | 'unsupported' | 'limit_reached', message: string) {
    super(message);
  }
}

/** Who a party is beyond its role: the person (for one live party per person and role), where from, until when. */
export interface PartyIdentity {
  /** `user:<id>`, `guest:<link id>`, `link:<signature>`; null for a room agent (one per room anyway). */
  personKey: string | null;
  remoteAddress: string | null;
  /** The end of its right to be in the session; the session tells it, then removes it after a grace. */
  until: Date | null;
}

export type PartyEvents = {
  'producer-added': [ProducerView];
  'producer-removed': [{ producerId: string; partyId: string }];
  'producer-paused': [{ producerId: string; partyId: string }];
  'producer-resumed': [{ producerId: string; partyId: string }];
  'consumer-closed': [{ consumerId: string; producerId: string }];
  /** Its window ended: it will be removed at `removeAt`. */
  'window-ending': [{ removeAt: Date }];
  closed: [reason: PartyLeaveReason];
};

interface ProducerEntry {
  producer: types.Producer;
  source: TrackSource;
}

/** A short-lived lookup a party needs of its session: producers of other parties. */
export interface ProducerDirectory {
  findProducer(producerId: string): { producer: types.Producer; partyId: string; role: PartyRole } | undefined;
  /** Throws limit_reached when the session cannot take `ports` more ports on its worker. */
  assertPorts?(ports: number): void;
}



/** Two are needed (send, receive); a few more allow a client's own recovery. */
const MAX_WEBRTC_TRANSPORTS = 4;

export class Party extends TypedEmitter<PartyEvents> {
  readonly id = randomUUID();
  readonly joinedAt = new Date();
  private readonly transports = new Map<string, types.Transport>();
  private readonly producers = new Map<string, ProducerEntry>();
  private readonly consumers = new Map<string, types.Consumer>();
  /** Sources being produced right now (before their producer exists). */
  private readonly producing = new Set<TrackSource>();
  private closedFlag = false;

  constructor(
    readonly role: PartyRole,
    readonly displayName: string,
    private readonly router: types.Router,
    private readonly listen: TransportListen,
    private readonly directory: ProducerDirectory,
    readonly identity: PartyIdentity = { personKey: null, remoteAddress: null, until: null }
  ) {
    super();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  view(): PartyView {
    return { partyId: this.id, role: this.role, displayName: this.displayName, joinedAt: this.joinedAt.toISOString() };
  }

  producerViews(): ProducerView[] {
    return [...this.producers.values()].map((e) => this.producerView(e));
  }

  producerEntries(): Array<{ producer: types.Producer; source: TrackSource }> {
    return [...this.producers.values()];
  }

  private producerView(e: ProducerEntry): ProducerView {
    return {
      producerId: e.producer.id,
      partyId: this.id,
      role: this.role,
      kind: e.producer.kind,
      source: e.source,
      paused: e.producer.paused,
    };
  }

  /** Ports this party's transports hold on the worker (WebRTC: UDP + TCP; plain: RTP + RTCP). */
  portsHeld(): number {
    return 2 * this.transports.size;
  }

  hasProducer(producerId: string): types.Producer | undefined {
    return this.producers.get(producerId)?.producer;
  }

  private transport(transportId: string): types.Transport {
    const t = this.transports.get(transportId);
    if (!t) throw new RequestError('not_found', `unknown transport ${transportId}`);
    return t;
  }

  private assertOpen(): void {
    if (this.closedFlag) throw new RequestError('forbidden', 'party has left the session');
  }

  // --- WebRTC (browsers) ---------------------------------------------------
  async createWebRtcTransport(direction: 'send' | 'recv'): Promise<TransportInfo> {
    this.assertOpen();
    const webrtc = [...this.transports.values()].filter((t) => t.appData['kind'] === 'webrtc').length;
    if (webrtc >= MAX_WEBRTC_TRANSPORTS) throw new RequestError('limit_reached', `a party has at most ${MAX_WEBRTC_TRANSPORTS} WebRTC transports`);
    this.directory.assertPorts?.(2);
    const transport = await this.router.createWebRtcTransport({
      listenInfos: [
        { protocol: 'udp', ip: this.listen.listenIp, announcedAddress: this.listen.announcedAddress || undefined },
        { protocol: 'tcp', ip: this.listen.listenIp, announcedAddress: this.listen.announcedAddress || undefined },
      ],
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
      appData: { partyId: this.id, direction, kind: 'webrtc' },
    });
    this.adopt(transport);
    return {
      transportId: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates.map((c) => ({
        foundation: c.foundation,
        priority: c.priority,
        address: c.address,
        protocol: c.protocol,
        port: c.port,
        type: c.type,
        ...(c.tcpType ? { tcpType: c.tcpType } : {}),
      })),
      dtlsParameters: { role: transport.dtlsParameters.role, fingerprints: transport.dtlsParameters.fingerprints },
    };
  }

  async connectTransport(transportId: string, dtlsParameters: DtlsParameters): Promise<void> {
    this.assertOpen();
    const t = this.transport(transportId);
    if (t.appData['kind'] !== 'webrtc') throw new RequestError('bad_request', 'transport is not a WebRTC transport');
    await (t as types.WebRtcTransport).connect({ dtlsParameters: dtlsParameters as types.DtlsParameters });
  }

  async restartIce(transportId: string): Promise<TransportInfo['iceParameters']> {
    this.assertOpen();
    const t = this.transport(transportId);
    if (t.appData['kind'] !== 'webrtc') throw new RequestError('bad_request', 'transport is not a WebRTC transport');
    return (t as types.WebRtcTransport).restartIce();
  }

  async produce(transportId: string, kind: MediaKind, source: TrackSource, rtpParameters: RtpParameters): Promise<string> {
    this.assertOpen();
    const t = this.transport(transportId);
    if (t.appData['direction'] !== 'send' || t.appData['kind'] !== 'webrtc') throw new RequestError('bad_request', 'transport is not a send transport');
    if (this.producing.has(source) || [...this.producers.values()].some((p) => p.source === source)) {
      throw new RequestError('bad_request', `party already produces its ${source}`);
    }
    this.producing.add(source);
    try {
      const producer = await t.produce({ kind, rtpParameters: rtpParameters as unknown as types.RtpParameters, appData: { source } });
      this.adoptProducer(producer, source);
      return producer.id;
    } finally {
      this.producing.delete(source);
    }
  }

  private adoptProducer(producer: types.Producer, source: TrackSource): void {
    if (this.closedFlag) {
      producer.close();
      throw new RequestError('forbidden', 'party has left the session');
    }
    const entry = { producer, source };
    this.producers.set(producer.id, entry);
    producer.observer.once('close', () => {
      this.producers.delete(producer.id);
      this.emit('producer-removed', { producerId: producer.id, partyId: this.id });
    });
    this.emit('producer-added', this.producerView(entry));
  }

  async setProducerPaused(producerId: string, paused: boolean): Promise<void> {
    this.assertOpen();
    const entry = this.producers.get(producerId);
    if (!entry) throw new RequestError('not_found', `unknown producer ${producerId}`);
    if (paused === entry.producer.paused) return;
    if (paused) await entry.producer.pause();
    else await entry.producer.resume();
    this.emit(paused ? 'producer-paused' : 'producer-resumed', { producerId, partyId: this.id });
  }

  closeProducer(producerId: string): void {
    const entry = this.producers.get(producerId);
    if (!entry) throw new RequestError('not_found', `unknown producer ${producerId}`);
    entry.producer.close();
  }

  private otherPartyProducer(producerId: string): { producer: types.Producer; partyId: string; role: PartyRole } {
    const found = this.directory.findProducer(producerId);
    if (!found || found.producer.closed) throw new RequestError('not_found', `unknown producer ${producerId}`);
    if (found.partyId === this.id) throw new RequestError('bad_request', 'a party does not consume its own producer');
    return found;
  }

  async consume(producerId: string, transportId: string, rtpCapabilities: RtpCapabilities): Promise<ConsumerInfo> {
    this.assertOpen();
    const t = this.transport(transportId);
    if (t.appData['direction'] !== 'recv' || t.appData['kind'] !== 'webrtc') throw new RequestError('bad_request', 'transport is not a receive transport');
    const found = this.otherPartyProducer(producerId);
    if (this.consumers.size >= MAX_CONSUMERS_PER_PARTY) throw new RequestError('limit_reached', `a party has at most ${MAX_CONSUMERS_PER_PARTY} consumers`);
    if (this.consumerList().some((c) => c.producerId === producerId && c.appData['transportId'] === transportId)) {
      throw new RequestError('bad_request', `already consuming ${producerId} on this transport`);
    }
    const caps = rtpCapabilities as unknown as types.RtpCapabilities;
    if (!this.router.canConsume({ producerId, rtpCapabilities: caps })) {
      throw new RequestError('unsupported', 'these RTP capabilities cannot consume that producer');
    }
    const consumer = await t.consume({ producerId, rtpCapabilities: caps, paused: true, appData: { partyId: found.partyId, transportId } });
    this.adoptConsumer(consumer);
    return {
      consumerId: consumer.id,
      producerId,
      partyId: found.partyId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters as unknown as RtpParameters,
    };
  }

  private adoptConsumer(consumer: types.Consumer): void {
    this.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => {
      this.consumers.delete(consumer.id);
      if (!this.closedFlag) this.emit('consumer-closed', { consumerId: consumer.id, producerId: consumer.producerId });
    });
    // The consumer's own transport closes it; a producer closing closes it too.
    consumer.on('producerclose', () => consumer.close());
  }

  async resumeConsumer(consumerId: string): Promise<void> {
    this.assertOpen();
    const consumer = this.consumers.get(consumerId);
    if (!consumer) throw new RequestError('not_found', `unknown consumer ${consumerId}`);
    try {
      await consumer.resume();
      if (consumer.kind === 'video') await consumer.requestKeyFrame();
    } catch (err) {
      // Its producer or transport closed while we asked: nothing left to resume.
      if (consumer.closed || this.closedFlag) throw new RequestError('not_found', `consumer ${consumerId} closed`);
      throw err;
    }
  }

  // --- Plain RTP (room agents) ------------------------------------------------
  async publishPlain(tracks: PlainTrack[], sourceIp?: string): Promise<PlainPublishTarget[]> {
    this.assertOpen();
    this.directory.assertPorts?.(2 * tracks.length);
    const targets: PlainPublishTarget[] = [];
    if (new Set(tracks.map((t) => t.source)).size !== tracks.length) throw new RequestError('bad_request', 'one track per source');
    for (const track of tracks) {
      if (this.producerEntries().some((p) => p.source === track.source)) {
        throw new RequestError('bad_request', `party already produces its ${track.source}`);
      }
    }
    const made: types.Transport[] = [];
    try {
      for (const track of tracks) targets.push(await this.publishTrack(track, sourceIp, made));
    } catch (err) {
      // All or nothing: a half-published room would refuse the retry ("already produces").
      for (const t of made) t.close();
      throw err;
    }
    return targets;
  }

  private async publishTrack(track: PlainTrack, sourceIp: string | undefined, made: types.Transport[]): Promise<PlainPublishTarget> {
      const fixedSource = sourceIp !== undefined && track.sourcePort !== undefined;
      const srtp = track.srtpKey ? { cryptoSuite: SRTP_SUITE, keyBase64: track.srtpKey } : undefined;
      const transport = await this.router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: this.listen.plainListenIp },
        rtcpMux: false,
        comedia: !fixedSource,
        ...(srtp ? { enableSrtp: true, srtpCryptoSuite: srtp.cryptoSuite } : {}),
        appData: { partyId: this.id, direction: 'send' },
      });
      made.push(transport);
      this.adopt(transport);
      if (fixedSource) {
        await transport.connect({ ip: sourceIp, port: track.sourcePort, rtcpPort: track.sourceRtcpPort ?? (track.sourcePort as number) + 1, ...(srtp ? { srtpParameters: srtp } : {}) });
      } else if (srtp) {
        await transport.connect({ srtpParameters: srtp });
      }
      const producer = await transport.produce({
        kind: track.kind,
        rtpParameters: {
          codecs: [
            {
              mimeType: track.mimeType,
              payloadType: track.payloadType,
              clockRate: track.clockRate,
              ...(track.channels ? { channels: track.channels } : {}),
              rtcpFeedback: track.kind === 'video' ? [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] : [],
            },
          ],
          encodings: [{ ssrc: track.ssrc }],
        },
        appData: { source: track.source, srtp: srtp !== undefined },
      });
      // One transport per published track: it goes when its producer goes (a republished track leaves no ports behind).
      producer.observer.once('close', () => transport.close());
      this.adoptProducer(producer, track.source);
      return {
        kind: track.kind,
        producerId: producer.id,
        ip: transport.tuple.localAddress,
        port: transport.tuple.localPort,
        rtcpPort: transport.rtcpTuple?.localPort ?? transport.tuple.localPort,
      };
  }

  /**
   * Sends another party's producer to a room agent over its own PlainTransport:
   * SRTP when the agent gives its key (`srtpKey`, for its RTCP to us), and the
   * transport's own key goes back in the reply for the agent to decrypt with.
   */
  async consumePlain(producerId: string, ip: string, port: number, rtcpPort: number, srtpKey?: string): Promise<PlainConsumerInfo> {
    this.assertOpen();
    const found = this.otherPartyProducer(producerId);
    // A room agent consumes a producer afresh when its player had to start again (a new SRTP key and
    // packet index): the old consumer, and its transport, go first.
    for (const old of this.consumerList().filter((c) => c.producerId === producerId && c.appData['plain'] === true)) old.close();
    const plain = [...this.transports.values()].filter((t) => t.appData['kind'] !== 'webrtc' && t.appData['direction'] === 'recv').length;
    if (plain >= MAX_PLAIN_CONSUMERS_PER_PARTY) throw new RequestError('limit_reached', `a room agent consumes at most ${MAX_PLAIN_CONSUMERS_PER_PARTY} tracks at once`);
    if (this.consumerList().some((c) => c.producerId === producerId)) throw new RequestError('bad_request', `already consuming ${producerId}`);
    this.directory.assertPorts?.(2);
    const transport = await this.router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: this.listen.plainListenIp },
      rtcpMux: false,
      comedia: false,
      ...(srtpKey ? { enableSrtp: true, srtpCryptoSuite: SRTP_SUITE } : {}),
      appData: { partyId: this.id, direction: 'recv', srtp: srtpKey !== undefined },
    });
    this.adopt(transport);
    try {
      await transport.connect({ ip, port, rtcpPort, ...(srtpKey ? { srtpParameters: { cryptoSuite: SRTP_SUITE, keyBase64: srtpKey } } : {}) });
      const consumer = await transport.consume({
        producerId,
        rtpCapabilities: this.router.rtpCapabilities,
        paused: true,
        appData: { partyId: found.partyId, srtp: srtpKey !== undefined, plain: true },
      });
      this.adoptConsumer(consumer);
      // One transport per plain consumer: it goes when its consumer goes.
      consumer.observer.once('close', () => transport.close());
      return {
        consumerId: consumer.id,
        producerId,
        partyId: found.partyId,
        role: found.role,
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters as unknown as RtpParameters,
        sourceIp: transport.tuple.localAddress,
        sourcePort: transport.tuple.localPort,
        sourceRtcpPort: transport.rtcpTuple?.localPort ?? transport.tuple.localPort,
        ...(srtpKey && transport.srtpParameters ? { srtpKey: transport.srtpParameters.keyBase64 } : {}),
      };
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  consumerList(): types.Consumer[] {
    return [...this.consumers.values()];
  }

  private adopt(transport: types.Transport): void {
    if (this.closedFlag) {
      // The party left while this transport was being made.
      transport.close();
      throw new RequestError('forbidden', 'party has left the session');
    }
    this.transports.set(transport.id, transport);
    transport.observer.once('close', () => this.transports.delete(transport.id));
  }

  /** Called by its session when its window ended. */
  windowEnding(removeAt: Date): void {
    if (!this.closedFlag) this.emit('window-ending', { removeAt });
  }

  close(reason: PartyLeaveReason): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    // Closing a transport closes its producers and consumers.
    for (const t of [...this.transports.values()]) t.close();
    this.transports.clear();
    this.emit('closed', reason);
  }
}
