// Bench 1: INVITE calls per second. Engine + answer-app (static SDP), SIPp's built-in `uac`
// (INVITE, 200, ACK, pause -d, BYE, 200) over UDP at stepped rates.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startApp, startEngine, stopStack } from './stack.mjs';
import { runSeries, runStep } from './steps.mjs';

export async function benchInvite({ gatewayCli, rates, stepSeconds, holdMs, recvTimeoutMs, drainMs, runDir, profileDir, deadline, log }) {
  const dir = join(runDir, 'invite');
  mkdirSync(dir, { recursive: true });
  let engine;
  let app;
  try {
    engine = await startEngine({ cli: gatewayCli, logDir: dir, profileDir: profileDir && join(profileDir, 'invite') });
    app = await startApp('answer-app.mjs', engine, { logDir: dir, profileDir: profileDir && join(profileDir, 'invite') });
    log(`invite: engine pid ${engine.pid} (sip udp 127.0.0.1:${engine.sipPort}, control ${engine.controlPort}), app pid ${app.pid}`);
    const series = await runSeries({
      label: 'invite',
      rates,
      stepSeconds,
      deadline,
      log,
      step: (rate, name) =>
        runStep({
          rate,
          stepSeconds,
          engine,
          app,
          scenario: { builtin: 'uac' },
          holdMs,
          recvTimeoutMs,
          drainMs,
          workDir: join(dir, name),
          activeOf: (s) => s.active,
        }),
    });
    return { ...series, engineCommand: engine.commandLine, holdMs, stepSeconds, recvTimeoutMs, scenario: 'sipp -sn uac (built-in)' };
  } finally {
    await stopStack(app, engine);
  }
}
