// Bench 2: REGISTER with digest authentication per second. Engine + registrar-app, SIPp with
// scenarios/register-digest.xml (REGISTER, 401, REGISTER with [authentication], 200) over UDP.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApp, startEngine, stopStack } from './stack.mjs';
import { runSeries, runStep } from './steps.mjs';

const SCENARIO = fileURLToPath(new URL('./scenarios/register-digest.xml', import.meta.url));
const USERS = 5000;

/**
 * SIPp injection file: user<N>;pw-user<N>;[authentication ...] (the registrar derives the
 * password the same way). Field 2 carries the whole keyword: SIPp cannot nest [fieldN] inside
 * [authentication], but it expands keywords that come from an injected field.
 */
function writeUsers(file) {
  const lines = ['SEQUENTIAL'];
  for (let i = 0; i < USERS; i++) lines.push(`user${i};pw-user${i};[authentication username=user${i} password=pw-user${i}]`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}

export async function benchRegister({ gatewayCli, rates, stepSeconds, recvTimeoutMs, drainMs, runDir, profileDir, deadline, log }) {
  const dir = join(runDir, 'register');
  mkdirSync(dir, { recursive: true });
  const usersFile = join(dir, 'users.csv');
  writeUsers(usersFile);
  let engine;
  let app;
  try {
    engine = await startEngine({ cli: gatewayCli, logDir: dir, profileDir: profileDir && join(profileDir, 'register') });
    app = await startApp('registrar-app.mjs', engine, { logDir: dir, profileDir: profileDir && join(profileDir, 'register') });
    log(`register: engine pid ${engine.pid} (sip udp 127.0.0.1:${engine.sipPort}, control ${engine.controlPort}), app pid ${app.pid}`);
    const series = await runSeries({
      label: 'register',
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
          scenario: { file: SCENARIO },
          extraArgs: ['-inf', usersFile, '-nd'], // -nd: no BYE for an aborted REGISTER
          recvTimeoutMs,
          drainMs,
          workDir: join(dir, name),
          activeOf: () => 0, // the registrar keeps no transactions open between requests
        }),
    });
    return { ...series, engineCommand: engine.commandLine, stepSeconds, recvTimeoutMs, scenario: 'test/bench/scenarios/register-digest.xml' };
  } finally {
    await stopStack(app, engine);
  }
}
