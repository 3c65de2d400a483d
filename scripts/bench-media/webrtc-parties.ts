// Runs inside one headless Chromium page (bundled by bench-media.ts): several
// WebRTC parties, each with its own mediasoup-client Device, send and receive
// transports, camera and microphone producers and one consumer per remote
// producer: the prosecutor's and lawyer's side of a session, without a page
// (and a renderer) per party. Each party speaks the product's signalling
// protocol, over its own Socket.io connection (the product) or through a
// binding into the bench process (the bare-mediasoup baseline, same messages).
import { Device } from 'mediasoup-client';
import type { Consumer, Producer, Transport } from 'mediasoup-client/types';
import { io, type Socket } from 'socket.io-client';
import type { ClientEventName, ClientPayload, ClientReply, JoinReply, Reply, TransportInfo } from '../../server/signalling/protocol.js';

export type PartySignal = { kind: 'socket'; url: string; token: string } | { kind: 'binding' };

export interface PartyStart {
  partyId: string;
  producerIds: string[];
}

export interface PartyStats {
  index: number;
  producers: number;
  consumers: number;
  packetsSent: number;
  packetsReceived: number;
  framesDecoded: number;
}

export interface BenchParties {
  start(index: number, signal: PartySignal): Promise<PartyStart>;
  consume(index: number, producerIds: string[]): Promise<void>;
  stats(): Promise<PartyStats[]>;
  closeAll(): void;
}

type Request = <E extends ClientEventName>(event: E, payload: ClientPayload<E>) => Promise<ClientReply<E>>;

declare global {
  interface Window {
    benchParties?: BenchParties;
    /** Exposed by the bench for the baseline: the same messages, answered by bare mediasoup. */
    benchSignal?: (index: number, event: string, payload: unknown) => Promise<unknown>;
  }
}

interface Party {
  request: Request;
  socket: Socket | null;
  device: Device;
  send: Transport;
  recv: Transport;
  producers: Producer[];
  consumers: Consumer[];
}

const parties = new Map<number, Party>();
let camera: Promise<MediaStream> | null = null;

/** One fake camera and microphone for the page; each party sends its own clone (its own encoder). */
function localMedia(): Promise<MediaStream> {
  camera ??= navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    // Smaller than a real prosecutor's 720p: 2 × N encoders and 4 × N decoders
    // share this machine with the server. The worker's cost is per packet;
    // the bench compares per packet with the baseline.
    video: { width: { ideal: 320 }, height: { ideal: 180 }, frameRate: { ideal: 15, max: 15 } },
  });
  return camera;
}

function socketRequest(url: string, token: string): Promise<{ socket: Socket; request: Request }> {
  const socket = io(url, { auth: { kind: 'party', token }, transports: ['websocket'], reconnection: false });
  let lost = '';
  socket.on('disconnect', (reason) => (lost = ` (signalling connection lost: ${reason})`));
  const request: Request = (event, payload) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${event}: no reply in 15 s${lost}`)), 15_000);
      (socket.emit as unknown as (e: string, p: unknown, ack: (r: Reply<unknown>) => void) => void)(event, payload, (reply) => {
        clearTimeout(timer);
        if (reply.ok) resolve(reply.data as ClientReply<typeof event>);
        else reject(new Error(`${event}: ${reply.error.code}: ${reply.error.message}`));
      });
    });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, request }));
    socket.once('connect_error', (err) => reject(new Error(`signalling connection refused: ${err.message}`)));
  });
}

function bindingRequest(index: number): Request {
  return async (event, payload) => {
    if (!window.benchSignal) throw new Error('no bench signal binding');
    return (await window.benchSignal(index, event, payload)) as ClientReply<typeof event>;
  };
}

function transportOptions(info: TransportInfo) {
  return {
    id: info.transportId,
    iceParameters: info.iceParameters,
    iceCandidates: info.iceCandidates.map((c) => ({ ...c, ip: c.address })),
    dtlsParameters: info.dtlsParameters,
  } as Parameters<Device['createSendTransport']>[0];
}

function wire(transport: Transport, request: Request): void {
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    request('transport:connect', { transportId: transport.id, dtlsParameters: dtlsParameters as ClientPayload<'transport:connect'>['dtlsParameters'] }).then(
      () => callback(),
      (e: unknown) => errback(e instanceof Error ? e : new Error(String(e)))
    );
  });
  transport.on('produce', ({ kind, rtpParameters }, callback, errback) => {
    request('producer:create', {
      transportId: transport.id,
      kind,
      source: kind === 'audio' ? 'microphone' : 'camera',
      rtpParameters: rtpParameters as unknown as ClientPayload<'producer:create'>['rtpParameters'],
    }).then(
      ({ producerId }) => callback({ id: producerId }),
      (e: unknown) => errback(e instanceof Error ? e : new Error(String(e)))
    );
  });
}

async function start(index: number, signal: PartySignal): Promise<PartyStart> {
  const { socket, request } = signal.kind === 'socket' ? await socketRequest(signal.url, signal.token) : { socket: null, request: bindingRequest(index) };
  const joined: JoinReply = await request('session:join', {});
  const device = new Device();
  await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities as Parameters<Device['load']>[0]['routerRtpCapabilities'] });
  const send = device.createSendTransport(transportOptions(await request('transport:create', { direction: 'send' })));
  wire(send, request);
  const recv = device.createRecvTransport(transportOptions(await request('transport:create', { direction: 'recv' })));
  wire(recv, request);
  const party: Party = { request, socket, device, send, recv, producers: [], consumers: [] };
  parties.set(index, party);
  const media = await localMedia();
  const audio = media.getAudioTracks()[0];
  const video = media.getVideoTracks()[0];
  if (!audio || !video) throw new Error('no fake camera or microphone');
  // The session page's encodings (web/src/session/session-client.ts).
  party.producers.push(await send.produce({ track: audio.clone(), codecOptions: { opusFec: true } }));
  party.producers.push(await send.produce({ track: video.clone(), encodings: [{ maxBitrate: 1_500_000 }], codecOptions: { videoGoogleStartBitrate: 1000 } }));
  return { partyId: joined.partyId, producerIds: party.producers.map((p) => p.id) };
}

async function consume(index: number, producerIds: string[]): Promise<void> {
  const party = parties.get(index);
  if (!party) throw new Error(`no party ${index}`);
  for (const producerId of producerIds) {
    const info = await party.request('consumer:create', {
      producerId,
      transportId: party.recv.id,
      rtpCapabilities: party.device.recvRtpCapabilities as unknown as ClientPayload<'consumer:create'>['rtpCapabilities'],
    });
    const consumer = await party.recv.consume({
      id: info.consumerId,
      producerId: info.producerId,
      kind: info.kind,
      rtpParameters: info.rtpParameters as unknown as Parameters<Transport['consume']>[0]['rtpParameters'],
    });
    party.consumers.push(consumer);
    await party.request('consumer:resume', { consumerId: consumer.id });
  }
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

async function stats(): Promise<PartyStats[]> {
  return Promise.all(
    [...parties.entries()].map(async ([index, party]) => {
      let packetsSent = 0;
      let packetsReceived = 0;
      let framesDecoded = 0;
      for (const p of party.producers) (await p.getStats()).forEach((s: Record<string, unknown>) => s['type'] === 'outbound-rtp' && (packetsSent += num(s['packetsSent'])));
      for (const c of party.consumers) {
        (await c.getStats()).forEach((s: Record<string, unknown>) => {
          if (s['type'] !== 'inbound-rtp') return;
          packetsReceived += num(s['packetsReceived']);
          framesDecoded += num(s['framesDecoded']);
        });
      }
      return { index, producers: party.producers.length, consumers: party.consumers.length, packetsSent, packetsReceived, framesDecoded };
    })
  );
}

function closeAll(): void {
  for (const party of parties.values()) {
    party.send.close();
    party.recv.close();
    party.socket?.disconnect();
  }
  parties.clear();
}

window.benchParties = { start, consume, stats, closeAll };
