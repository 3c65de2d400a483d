// UDP port pairs (RTP, RTCP = RTP + 1) for the recorder's ffmpeg receivers,
// from their own range so they never meet the room agents' players or the
// mediasoup workers' ports. Pairs handed out and not yet released are never
// handed out twice by this process; a port another process holds fails the
// bind test and is skipped.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';

export class RtpPortPool {
  private readonly taken = new Set<number>();

  constructor(private readonly ip: string, private readonly min: number, private readonly max: number) {
    if (min % 2 !== 0 || max <= min) throw new Error(`bad recorder RTP port range ${min}-${max}`);
  }

  async acquire(): Promise<number> {
    const span = Math.floor((this.max - this.min) / 2);
    for (let attempt = 0; attempt < 64; attempt++) {
      const port = this.min + 2 * Math.floor(Math.random() * span);
      if (this.taken.has(port)) continue;
      this.taken.add(port);
      const ok = (await Promise.all([canBind(this.ip, port), canBind(this.ip, port + 1)])).every(Boolean);
      if (ok) return port;
      this.taken.delete(port);
    }
    throw new Error(`no free UDP port pair for a recorder in ${this.min}-${this.max}`);
  }

  release(port: number): void {
    this.taken.delete(port);
  }
}

function canBind(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, ip, () => s.close(() => resolve(true)));
  });
}

/** Whether some process on this host has bound the UDP port (Linux: /proc/net/udp); null when unknown. */
export function udpPortBound(port: number): boolean | null {
  let text: string;
  try {
    text = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return null;
  }
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return text.split('\n').some((line) => line.trim().split(/\s+/)[1]?.endsWith(hex) ?? false);
}
