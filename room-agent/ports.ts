// Free UDP ports on this host, for the publisher's and the players' RTP/RTCP pairs.
import { createSocket } from 'node:dgram';

/** Finds a free even/odd UDP port pair on the address (RTP, RTCP). */
export async function freePortPair(ip: string, min = 20000, max = 29998): Promise<[number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = min + 2 * Math.floor((Math.random() * (max - min)) / 2);
    const ok = await Promise.all([port, port + 1].map((p) => canBind(ip, p)));
    if (ok.every(Boolean)) return [port, port + 1];
  }
  throw new Error('no free UDP port pair');
}

function canBind(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket(ip.includes(':') ? 'udp6' : 'udp4');
    s.once('error', () => resolve(false));
    s.bind(port, ip, () => s.close(() => resolve(true)));
  });
}
