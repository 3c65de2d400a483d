// pino, one child logger per component.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Query parameters whose values are secrets (join tokens, keys): never written to the log. */
const secretParam = /token|key|secret|credential|password|code|sig/i;

/** A request URL with the values of secret-looking query parameters replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        return '[redacted]';
      }
      return eq >= 0 && secretParam.test(decoded) ? `${name}=[redacted]` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: Record<string, unknown>;
  socket?: { remotePort?: number };
}

/** Fastify's request serializer, with secrets in the query string redacted (join links carry their token there). */
function requestSerializer(req: LoggedRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactUrl(req.url) : req.url,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/**
 * Fields that hold secrets wherever they appear in a logged object, up to three
 * levels down (SRTP keys of room media, agent credentials, join tokens, passwords).
 */
const secretFields = ['srtpKey', 'keyBase64', 'srtpParameters', 'credential', 'token', 'password', 'key'];
export const secretLogPaths: string[] = secretFields.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`, `*[*].${f}`, `*.*[*].${f}`]);

/** The root logger (stdout, or `destination`, e.g. a test's capture). */
export function createRootLogger(level: LevelWithSilent, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { req: requestSerializer, err: pino.stdSerializers.err },
    redact: { paths: secretLogPaths, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
