#!/usr/bin/env node
/**
 * Command-line entry: `gateway engine [drachtio flags]` runs the SIP engine alone;
 * `gateway start` runs the engine and the gateway app together (see ../app).
 */
import { createLogger, setLogLevel } from '../logging/logger';
import { Engine } from '../engine/core/engine';
import { ENGINE_USAGE, parseEngineArgs, UsageError } from './engine-options';
import { runGateway, runApp } from './start';

const log = createLogger('cli');

async function runEngine(argv: string[]): Promise<void> {
  const { loglevel, ...config } = parseEngineArgs(argv);
  setLogLevel(loglevel);
  const engine = new Engine(config);
  await engine.start();
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping engine');
    void engine.stop().finally(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'engine':
      return runEngine(rest);
    case 'start':
      return runGateway(rest);
    case 'app':
      return runApp(rest);
    default:
      process.stderr.write(`usage: gateway <engine|start|app> [options]\n  start  engine + app on this machine\n  app    the app alone, against a drachtio server (--drachtio-host, --drachtio-port, DRACHTIO_SECRET)\n\n${ENGINE_USAGE}\n`);
      process.exit(command ? 2 : 0);
  }
}

process.on('uncaughtException', (err) => {
  log.fatal({ err: err.stack }, 'uncaught exception');
  process.exit(1);
});

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  log.fatal({ err: (err as Error).stack ?? String(err) }, 'failed to start');
  process.exit(1);
});
