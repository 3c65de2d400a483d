// A socket.io client speaking the signalling protocol, for tests of the edge.
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, Reply, ServerToClientEvents } from '../../server/signalling/protocol.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export function connect(url: string, auth: unknown): Promise<TestSocket> {
  const socket: TestSocket = io(url, { auth: auth as Record<string, unknown>, transports: ['websocket'], reconnection: false, timeout: 5000 });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** Emits any event with any payload (including wrong ones) and returns the reply. */
export function send(socket: TestSocket, event: string, ...payload: unknown[]): Promise<Reply<unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply to ${event}`)), 5000);
    (socket.emit as unknown as (ev: string, ...args: unknown[]) => void)(event, ...payload, (reply: Reply<unknown>) => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
}
