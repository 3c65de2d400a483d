// pino, one child logger per component.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createRootLogger(level: LevelWithSilent): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
