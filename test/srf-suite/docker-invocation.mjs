// @ts-check
// Translation of the `docker run ... drachtio/sipp sipp ...` command lines that drachtio-srf's
// test/sipp.js spawns into a local `sipp` command line. Pure functions, shared by the docker
// shim (docker-shim.mjs, plain Node so it runs without a TypeScript loader) and its unit test.
//
//   UAC:        docker run --rm --net test_testbed -v DIR:/tmp/scenarios drachtio/sipp
//                 sipp -sf /tmp/scenarios/F -m 1 ... drachtio-sut
//            -> sipp -i <fresh spare address> -cp <distinct> -mp <distinct> -sf DIR/F -m 1 ... drachtio-sut
//   named UAS:  docker run --rm --net test_testbed --name NAME -v DIR:/tmp/scenarios drachtio/sipp
//                 sipp -sf /tmp/scenarios/F -m 1 -nostdin
//            -> sipp -i <NAME's address> -p 5060 -cp <distinct> -mp <distinct> -sf DIR/F -m 1 -nostdin

/** docker run options that take a value (as the next argument or after `=`). */
const OPTIONS_WITH_VALUE = new Set([
  '--net', '--network', '--name', '-v', '--volume', '-e', '--env', '-w', '--workdir', '-p', '--publish',
  '--entrypoint', '-u', '--user', '-h', '--hostname', '--add-host', '--mount', '--cap-add', '--ulimit',
]);

/** SIPp options the translation sets itself; copies in the original command line are dropped. */
const SIPP_OPTIONS_SET_BY_SHIM = new Set(['-i', '-cp', '-mp']);

/** The SIP port every named sipp container listens on (the SUT addresses it as sip:NAME). */
export const NAMED_UAS_SIP_PORT = 5060;

export class UnsupportedDockerInvocation extends Error {}

/**
 * @typedef {object} DockerRun
 * @property {string | undefined} name         --name
 * @property {string | undefined} network      --net / --network
 * @property {{ hostPath: string, containerPath: string }[]} volumes  -v HOST:CONTAINER[:MODE]
 * @property {string} image
 * @property {string[]} command                everything after the image
 */

/**
 * Parses `docker run [options] IMAGE [COMMAND...]` (argv without the leading `docker`).
 * @param {readonly string[]} argv
 * @returns {DockerRun}
 */
export function parseDockerRun(argv) {
  if (argv[0] !== 'run') {
    throw new UnsupportedDockerInvocation(`only \`docker run\` is supported, got \`docker ${argv.join(' ')}\``);
  }
  /** @type {DockerRun} */
  const run = { name: undefined, network: undefined, volumes: [], image: '', command: [] };
  let index = 1;
  while (index < argv.length) {
    const arg = argv[index] ?? '';
    if (!arg.startsWith('-')) break;
    const equals = arg.indexOf('=');
    const option = arg.startsWith('--') && equals > 0 ? arg.slice(0, equals) : arg;
    let value;
    if (OPTIONS_WITH_VALUE.has(option)) {
      if (option !== arg) {
        value = arg.slice(equals + 1);
      } else {
        value = argv[index + 1];
        index += 1;
      }
      if (value === undefined) throw new UnsupportedDockerInvocation(`docker run option ${option} lacks its value`);
    }
    index += 1;
    if (option === '--name') run.name = value;
    if (option === '--net' || option === '--network') run.network = value;
    if ((option === '-v' || option === '--volume') && value !== undefined) {
      const [hostPath = '', containerPath = ''] = value.split(':');
      run.volumes.push({ hostPath, containerPath });
    }
  }
  run.image = argv[index] ?? '';
  run.command = argv.slice(index + 1);
  if (!run.image) throw new UnsupportedDockerInvocation('docker run without an image');
  return run;
}

/**
 * Replaces a bind-mounted container path at the start of each argument by its host path.
 * @param {readonly string[]} args
 * @param {DockerRun['volumes']} volumes
 * @returns {string[]}
 */
export function rewriteVolumePaths(args, volumes) {
  return args.map((arg) => {
    for (const { hostPath, containerPath } of volumes) {
      if (!containerPath) continue;
      if (arg === containerPath) return hostPath;
      if (arg.startsWith(`${containerPath}/`)) return `${hostPath.replace(/\/$/, '')}/${arg.slice(containerPath.length + 1)}`;
    }
    return arg;
  });
}

/**
 * Drops the given options and their values from a sipp argument list.
 * @param {readonly string[]} args
 * @param {ReadonlySet<string>} options
 * @returns {string[]}
 */
function withoutOptions(args, options) {
  /** @type {string[]} */
  const kept = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    if (options.has(arg)) {
      i += 1;
      continue;
    }
    kept.push(arg);
  }
  return kept;
}

/**
 * @typedef {object} ShimAllocation
 * @property {number} slot                       this invocation's sequence number (0, 1, 2, ...)
 * @property {Readonly<Record<string, string>>} containerAddresses  container name -> address
 * @property {readonly string[]} uacAddresses    spare addresses for UACs, used round robin by slot
 * @property {number} controlPortBase            -cp = base + slot
 * @property {number} mediaPortBase              -mp = base + 4 * slot (sipp also binds -mp + 2)
 */

/**
 * @typedef {object} SippInvocation
 * @property {'uac' | 'named-uas'} kind
 * @property {string | undefined} containerName
 * @property {string} localAddress
 * @property {number} controlPort
 * @property {number} mediaPort
 * @property {string} scenario                   the scenario file's base name, for log names
 * @property {string[]} sippArgs                 arguments for the local `sipp`
 */

/**
 * Turns a `docker run ... sipp ...` argv into the local sipp invocation.
 * @param {readonly string[]} argv   docker's arguments (without `docker`)
 * @param {ShimAllocation} allocation
 * @returns {SippInvocation}
 */
export function translateDockerRun(argv, allocation) {
  const run = parseDockerRun(argv);
  const [program, ...containerArgs] = run.command;
  if (program !== 'sipp') {
    throw new UnsupportedDockerInvocation(`only sipp containers are supported, got \`${run.image} ${run.command.join(' ')}\``);
  }
  const args = withoutOptions(rewriteVolumePaths(containerArgs, run.volumes), SIPP_OPTIONS_SET_BY_SHIM);
  const controlPort = allocation.controlPortBase + allocation.slot;
  const mediaPort = allocation.mediaPortBase + 4 * allocation.slot;
  const scenarioIndex = args.indexOf('-sf');
  const scenarioPath = scenarioIndex >= 0 ? args[scenarioIndex + 1] ?? '' : args[args.indexOf('-sn') + 1] ?? 'sipp';
  const scenario = scenarioPath.split('/').pop() ?? scenarioPath;

  if (run.name !== undefined) {
    const localAddress = allocation.containerAddresses[run.name];
    if (!localAddress) {
      throw new UnsupportedDockerInvocation(`no testbed address for container --name ${run.name}; add it to the hosts map`);
    }
    const portless = withoutOptions(args, new Set(['-p']));
    return {
      kind: 'named-uas',
      containerName: run.name,
      localAddress,
      controlPort,
      mediaPort,
      scenario,
      sippArgs: ['-i', localAddress, '-p', String(NAMED_UAS_SIP_PORT), '-cp', String(controlPort), '-mp', String(mediaPort), ...portless],
    };
  }
  if (allocation.uacAddresses.length === 0) throw new UnsupportedDockerInvocation('no spare UAC addresses configured');
  const localAddress = allocation.uacAddresses[allocation.slot % allocation.uacAddresses.length] ?? '';
  return {
    kind: 'uac',
    containerName: undefined,
    localAddress,
    controlPort,
    mediaPort,
    scenario,
    sippArgs: ['-i', localAddress, '-cp', String(controlPort), '-mp', String(mediaPort), ...args],
  };
}
