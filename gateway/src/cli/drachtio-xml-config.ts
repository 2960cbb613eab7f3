/**
 * The subset of drachtio-server's XML configuration (drachtio.conf.xml) the engine honours:
 * admin port/address/secret, SIP contacts, TLS files, timers, CDRs, spammers, log level.
 */
import { XMLParser } from 'fast-xml-parser';
import type { TimerConfig } from '../engine/transaction/timers';
import type { ListenSpec } from '../engine/transport';
import { parseContact } from './engine-options';

export interface DrachtioXmlConfig {
  adminPort?: number;
  adminAddress?: string;
  secret?: string;
  contacts: ListenSpec[];
  tls?: { keyFile: string; certFile: string; chainFile?: string };
  timers?: Partial<TimerConfig>;
  cdrs?: boolean;
  spammers?: { userAgent?: string[]; toUser?: string[]; fromUser?: string[] };
  loglevel?: string;
}

type Node = Record<string, unknown>;

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const text = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : typeof v === 'object' ? String((v as Node)['#text'] ?? '') : String(v));

export function readDrachtioXmlConfig(xml: string): DrachtioXmlConfig {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false }).parse(xml) as Node;
  const root = (doc.drachtio ?? {}) as Node;
  const admin = root.admin as Node | string | undefined;
  const sip = (root.sip ?? {}) as Node;
  const contacts: ListenSpec[] = [];
  for (const c of asArray((sip.contacts as Node | undefined)?.contact as unknown)) {
    const uri = text(c);
    if (!uri) continue;
    const specs = parseContact(uri);
    if (typeof c === 'object') {
      const attrs = c as Node;
      for (const s of specs) {
        if (attrs['@external-ip']) s.externalIp = String(attrs['@external-ip']);
        if (attrs['@local-net']) s.localNets = String(attrs['@local-net']).split(',');
        if (attrs['@dns-names']) s.dnsNames = String(attrs['@dns-names']).split(',');
      }
    }
    contacts.push(...specs);
  }
  const tlsNode = sip.tls as Node | undefined;
  const timersNode = sip.timers as Node | undefined;
  const timers: Partial<TimerConfig> = {};
  for (const k of ['t1', 't2', 't4'] as const) {
    const v = text(timersNode?.[k]);
    if (v) timers[k] = Number(v);
  }
  const spam = (sip.spammers ?? {}) as Node;
  const headerList = (name: string): string[] =>
    asArray(spam.header as Node | Node[] | undefined)
      .filter((h) => String(h['@name'] ?? '').toLowerCase() === name)
      .flatMap((h) => asArray(h.value as unknown).map((v) => text(v) ?? ''))
      .filter(Boolean);
  const cdrs = text(root.cdrs);
  return {
    adminPort: typeof admin === 'object' && admin['@port'] ? Number(admin['@port']) : undefined,
    adminAddress: text(admin) || undefined,
    secret: typeof admin === 'object' && admin['@secret'] ? String(admin['@secret']) : undefined,
    contacts,
    tls: tlsNode && text(tlsNode['key-file']) && text(tlsNode['cert-file'])
      ? { keyFile: text(tlsNode['key-file'])!, certFile: text(tlsNode['cert-file'])!, chainFile: text(tlsNode['chain-file']) }
      : undefined,
    timers: Object.keys(timers).length ? timers : undefined,
    cdrs: cdrs === undefined ? undefined : /^(true|yes)$/i.test(cdrs),
    spammers: spam.header ? { userAgent: headerList('user-agent'), toUser: headerList('to'), fromUser: headerList('from') } : undefined,
    loglevel: text((root.logging as Node | undefined)?.loglevel),
  };
}
