// A socket.io client speaking the signalling protocol, for tests of the edge.
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, Reply, ServerToClientEvents } from '../../server/signalling/protocol.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Opens a socket with handshake `auth`; `headers` go with the handshake (a signed-in person's `cookie`). */
export function connect(url: string, auth: unknown, headers?: Record<string, string>): Promise<TestSocket> {
  const socket: TestSocket = io(url, { auth: auth as Record<string, unknown>, transports: ['websocket'], reconnection: false, timeout: 5000, ...(headers ? { extraHeaders: headers } : {}) });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
      socket.close();
    };
    // The server drops a CONNECT packet whose auth is not an object without an
    // answer: the transport closes, and the helper says so instead of waiting.
    const timer = setTimeout(() => fail(new Error('no answer to the handshake')), 8000);
    // (A refusal closes the manager just before connect_error: let that come first.)
    socket.io.once('close', (reason) => setTimeout(() => fail(new Error(`connection closed before the handshake was answered: ${reason}`)), 0));
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('connect_error', (err) => fail(err));
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
