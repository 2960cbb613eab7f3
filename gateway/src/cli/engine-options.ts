/**
 * drachtio-server's core command-line flags (drachtio-protocol §11.1), mapped onto the engine's
 * configuration, so `gateway engine ...` can replace `drachtio ...` in a container command.
 * Environment variables DRACHTIO_* are honoured as the real server does.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { EngineConfig } from '../engine/core/engine';
import type { ListenSpec, Protocol } from '../engine/transport';
import { readDrachtioXmlConfig } from './drachtio-xml-config';

export class UsageError extends Error {}

export const ENGINE_USAGE = `usage: gateway engine [options]
  --contact URI            SIP listen address, repeatable, e.g. "sip:127.0.0.1:5060;transport=udp,tcp",
                           "sips:*:5061;transport=tls", "sip:*:8080;transport=ws", "sips:*:8443;transport=wss"
                           (default sip:*;transport=udp,tcp)
  --external-ip IP         advertised address for the preceding --contact
  --local-net CIDR         local network of the preceding --contact
  --dns-name NAME          extra local name of the preceding --contact
  --address IP             control-port bind address (default 0.0.0.0)
  -p, --port N             control port apps connect to (default 9022)
  --secret S               shared secret apps authenticate with (default cymru)
  --key-file/--cert-file/--chain-file PEM   certificate for tls and wss contacts
  --mtu N                  requests larger than N-200 bytes switch from UDP to TCP (default 1500)
  --loglevel L             notice|error|warning|info|debug (default info)
  --always-send-180        send 180 Ringing with the automatic 100 Trying
  --user-agent-options-auto-respond UA   answer OPTIONS from this User-Agent with 200 at once
  --reject-register-with-no-realm        403 for REGISTER to an IP-literal Request-URI
  --cdrs                   emit CDR events to apps that subscribe
  --host-alias NAME=IP     resolve NAME to IP before DNS (repeatable)
  -f, --file PATH          drachtio XML config file (admin, contacts, timers, cdrs, spammers)
  --noconfig               ignore the config file
  (--sofia-loglevel, --tcp-keepalive-interval and --disable-nat-detection are accepted for compatibility)`;

const PROTOCOL_DEFAULT_PORT: Record<Protocol, number> = { udp: 5060, tcp: 5060, tls: 5061, ws: 80, wss: 443 };

/** `sip:HOST[:PORT];transport=a,b` -> one ListenSpec per transport (§11.1). */
export function parseContact(contact: string): ListenSpec[] {
  const m = /^(sips?):(?:([^@]*)@)?(\[[^\]]+\]|[^:;]+)(?::(\d+))?(.*)$/i.exec(contact.trim());
  if (!m) throw new UsageError(`invalid --contact ${contact}`);
  const scheme = m[1].toLowerCase() as 'sip' | 'sips';
  let host = m[3] === '*' ? '0.0.0.0' : m[3].replace(/^\[|\]$/g, '');
  if (host === '*') host = '0.0.0.0';
  const params = new Map(
    m[5]
      .split(';')
      .filter(Boolean)
      .map((p) => {
        const [k, v] = p.split('=');
        return [k.toLowerCase(), v ?? ''] as const;
      }),
  );
  const transports = (params.get('transport') ?? (scheme === 'sips' ? 'tls' : 'udp,tcp')).toLowerCase().split(',').filter(Boolean);
  return transports.map((t) => {
    if (!['udp', 'tcp', 'tls', 'ws', 'wss'].includes(t)) throw new UsageError(`unknown transport ${t} in --contact ${contact}`);
    const protocol = t as Protocol;
    return { protocol, host, port: m[4] ? Number(m[4]) : PROTOCOL_DEFAULT_PORT[protocol], scheme: protocol === 'tls' || protocol === 'wss' ? 'sips' : scheme };
  });
}

export function parseEngineArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): EngineConfig & { loglevel: string } {
  const { values, tokens } = parseArgs({
    args: argv,
    allowPositionals: false,
    tokens: true,
    options: {
      contact: { type: 'string', multiple: true },
      'external-ip': { type: 'string', multiple: true },
      'local-net': { type: 'string', multiple: true },
      'dns-name': { type: 'string', multiple: true },
      address: { type: 'string' },
      port: { type: 'string', short: 'p' },
      secret: { type: 'string' },
      'key-file': { type: 'string' },
      'cert-file': { type: 'string' },
      'chain-file': { type: 'string' },
      mtu: { type: 'string' },
      loglevel: { type: 'string' },
      'sofia-loglevel': { type: 'string' },
      'tcp-keepalive-interval': { type: 'string' },
      'always-send-180': { type: 'boolean' },
      'user-agent-options-auto-respond': { type: 'string' },
      'reject-register-with-no-realm': { type: 'boolean' },
      'disable-nat-detection': { type: 'boolean' },
      cdrs: { type: 'boolean' },
      'host-alias': { type: 'string', multiple: true },
      file: { type: 'string', short: 'f' },
      noconfig: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) throw new UsageError(ENGINE_USAGE);

  const fromFile = !values.noconfig && values.file ? readDrachtioXmlConfig(readFileSync(values.file, 'utf8')) : undefined;

  // --external-ip / --local-net / --dns-name apply to the --contact before them (§11.1).
  const contacts: ListenSpec[][] = [];
  for (const t of tokens ?? []) {
    if (t.kind !== 'option' || t.value === undefined) continue;
    if (t.name === 'contact') contacts.push(parseContact(t.value));
    const last = contacts[contacts.length - 1];
    if (!last) continue;
    if (t.name === 'external-ip') last.forEach((s) => (s.externalIp = t.value));
    if (t.name === 'local-net') last.forEach((s) => (s.localNets = [...(s.localNets ?? []), t.value!]));
    if (t.name === 'dns-name') last.forEach((s) => (s.dnsNames = [...(s.dnsNames ?? []), t.value!]));
  }
  let specs = contacts.flat();
  if (!specs.length && fromFile?.contacts.length) specs = fromFile.contacts;
  if (!specs.length && env.DRACHTIO_CONTACT) specs = env.DRACHTIO_CONTACT.split(' ').filter(Boolean).flatMap(parseContact);
  if (!specs.length) specs = parseContact('sip:*;transport=udp,tcp');
  const keyFile = values['key-file'] ?? fromFile?.tls?.keyFile ?? env.DRACHTIO_TLS_KEY_FILE;
  const certFile = values['cert-file'] ?? fromFile?.tls?.certFile ?? env.DRACHTIO_TLS_CERT_FILE;
  const chainFile = values['chain-file'] ?? fromFile?.tls?.chainFile ?? env.DRACHTIO_TLS_CHAIN_FILE;
  for (const s of specs) {
    if (s.protocol === 'tls' || s.protocol === 'wss') {
      if (!keyFile || !certFile) throw new UsageError(`${s.protocol} contact needs --key-file and --cert-file`);
      s.tls = { keyFile, certFile, chainFile };
    }
  }
  const hostAliases = new Map<string, string>();
  for (const a of values['host-alias'] ?? []) {
    const [name, ip] = a.split('=');
    if (!name || !ip) throw new UsageError(`invalid --host-alias ${a}`);
    hostAliases.set(name.toLowerCase(), ip);
  }
  const port = Number(values.port ?? env.DRACHTIO_ADMIN_TCP_PORT ?? fromFile?.adminPort ?? 9022);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`invalid --port ${values.port}`);
  return {
    contacts: specs,
    adminAddress: values.address ?? env.DRACHTIO_ADMIN_ADDRESS ?? fromFile?.adminAddress ?? '0.0.0.0',
    adminPort: port,
    secret: values.secret ?? env.DRACHTIO_SECRET ?? fromFile?.secret ?? 'cymru',
    timers: fromFile?.timers,
    cdrs: values.cdrs ?? fromFile?.cdrs ?? false,
    mtu: values.mtu ? Number(values.mtu) : undefined,
    alwaysSend180: values['always-send-180'] ?? false,
    userAgentOptionsAutoRespond: values['user-agent-options-auto-respond'],
    rejectRegisterWithNoRealm: values['reject-register-with-no-realm'] ?? false,
    spammers: fromFile?.spammers,
    hostAliases,
    loglevel: values.loglevel ?? env.DRACHTIO_LOGLEVEL ?? fromFile?.loglevel ?? 'info',
  };
}
