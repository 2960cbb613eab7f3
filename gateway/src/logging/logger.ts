/**
 * One pino logger for the whole process. Level from GATEWAY_LOG_LEVEL / --loglevel; drachtio's
 * level names (notice, warning) are mapped onto pino's.
 */
import pino from 'pino';

const LEVEL_ALIASES: Record<string, pino.Level> = {
  notice: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  info: 'info',
  debug: 'debug',
  trace: 'trace',
  fatal: 'fatal',
};

export type Logger = pino.Logger;

export function toPinoLevel(level: string | undefined): pino.Level | 'silent' {
  if (!level) return 'info';
  if (level === 'silent') return 'silent';
  return LEVEL_ALIASES[level.toLowerCase()] ?? 'info';
}

let root: Logger | undefined;

export function rootLogger(): Logger {
  if (!root) root = pino({ level: toPinoLevel(process.env.GATEWAY_LOG_LEVEL), base: { pid: process.pid } });
  return root;
}

export function setLogLevel(level: string): void {
  rootLogger().level = toPinoLevel(level);
}

export function createLogger(component: string): Logger {
  return rootLogger().child({ component });
}
