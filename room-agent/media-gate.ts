// The room's receiving end of one consumer: the UDP port pair the server was
// told to send to. It takes RTP and RTCP only from the server's own address
// and ports (the PlainTransport's tuple, told in the agent:consume reply);
// every other datagram is dropped and counted. What passes goes to the
// player's ffmpeg on loopback, whose SDP admits loopback sources only, so the
// one way in from the network is through this gate. With SRTP the player also
// drops anything that fails authentication (a sender that forges the server's
// address cannot forge its key).
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { freePortPair } from './ports.js';

export interface MediaSource {
  ip: string;
  port: number;
  rtcpPort: number;
}

export interface GateCounts {
  /** Datagrams from the server, handed to the player. */
  passed: number;
  /** Datagrams from anywhere else (or before the server's address was known), dropped. */
  dropped: number;
}

function bindUdp(ip: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4' });
    s.once('error', reject);
    s.bind(port, ip, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

const normalise = (address: string): string => (address.startsWith('::ffff:') ? address.slice(7) : address);

export class MediaGate {
  private source: MediaSource | null = null;
  private closed = false;
  readonly counts: GateCounts = { passed: 0, dropped: 0 };
  private warned = false;

  private constructor(
    private readonly rtp: Socket,
    private readonly rtcp: Socket,
    private readonly inner: Socket,
    /** The player's ffmpeg listens here (loopback; RTCP on port + 1). */
    readonly innerPort: number,
    readonly port: number,
    readonly rtcpPort: number,
    private readonly onStray?: (from: string) => void
  ) {
    rtp.on('message', (msg, from) => this.forward(msg, from, 'rtp'));
    rtcp.on('message', (msg, from) => this.forward(msg, from, 'rtcp'));
    for (const s of [rtp, rtcp, inner]) s.on('error', () => undefined);
  }

  /** Binds a free RTP/RTCP pair on `ip` (what the server sends to) and the loopback pair for the player. */
  static async open(ip: string, options: { onStray?: (from: string) => void } = {}): Promise<MediaGate> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const [port, rtcpPort] = await freePortPair(ip);
      // ffmpeg's SDP input binds its ports on every address: a pair free on all of them.
      const [innerPort] = await freePortPair('0.0.0.0', 40000, 49998);
      const opened: Socket[] = [];
      try {
        opened.push(await bindUdp(ip, port));
        opened.push(await bindUdp(ip, rtcpPort));
        opened.push(await bindUdp('127.0.0.1', 0));
        const [rtp, rtcp, inner] = opened as [Socket, Socket, Socket];
        return new MediaGate(rtp, rtcp, inner, innerPort, port, rtcpPort, options.onStray);
      } catch {
        for (const s of opened) s.close();
      }
    }
    throw new Error('no free UDP port pair for a player');
  }

  /** From now on only datagrams from the server's address and ports pass. */
  admit(source: MediaSource): void {
    this.source = { ...source, ip: normalise(source.ip) };
  }

  private forward(msg: Buffer, from: RemoteInfo, which: 'rtp' | 'rtcp'): void {
    const s = this.source;
    if (this.closed || !s || normalise(from.address) !== s.ip || from.port !== (which === 'rtp' ? s.port : s.rtcpPort)) {
      this.counts.dropped++;
      if (!this.warned && !this.closed) {
        this.warned = true;
        this.onStray?.(`${from.address}:${from.port}`);
      }
      return;
    }
    this.counts.passed++;
    this.inner.send(msg, which === 'rtp' ? this.innerPort : this.innerPort + 1, '127.0.0.1');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [this.rtp, this.rtcp, this.inner]) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}
