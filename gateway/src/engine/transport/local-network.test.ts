import { describe, it, expect } from 'vitest';
import { deriveLocalNets, matchesLocalNet, prefixMatchLength } from './local-network';
import { describeTransport } from './transport-descriptor';
import { normalizeAddress } from './ip-address';

describe('local networks (drachtio-protocol §11.1)', () => {
  it('derives the default local network from the host class', () => {
    expect(deriveLocalNets('127.0.0.1')).toEqual(['127.0.0.1/32']);
    expect(deriveLocalNets('192.168.0.7')).toEqual(['192.168.0.0/24']);
    expect(deriveLocalNets('192.168.5.7')).toEqual(['192.168.5.0/24']);
    expect(deriveLocalNets('172.16.3.4')).toEqual(['172.16.0.0/16']);
    expect(deriveLocalNets('172.20.3.4')).toEqual(['172.20.0.0/16']);
    expect(deriveLocalNets('10.1.2.3')).toEqual(['10.0.0.0/8']);
    expect(deriveLocalNets('8.8.8.8')).toEqual([]);
    expect(deriveLocalNets('::1')).toEqual([]);
  });

  it('matches IPv4 and IPv6 CIDRs, and nothing for names or bad CIDRs', () => {
    const t = { localNets: ['10.0.0.0/8', '192.168.1.0/24', 'fd00::/8', 'garbage/99'] };
    expect(matchesLocalNet(t, '10.200.1.1')).toBe(true);
    expect(matchesLocalNet(t, '::ffff:10.200.1.1')).toBe(true);
    expect(matchesLocalNet(t, '192.168.1.254')).toBe(true);
    expect(matchesLocalNet(t, '192.168.2.1')).toBe(false);
    expect(matchesLocalNet(t, 'fd12::1')).toBe(true);
    expect(matchesLocalNet(t, '[fd12::1]')).toBe(true);
    expect(matchesLocalNet(t, '2001:db8::1')).toBe(false);
    expect(matchesLocalNet(t, 'example.com')).toBe(false);
    expect(matchesLocalNet({ localNets: [] }, '10.0.0.1')).toBe(false);
  });

  it('counts leading matching IPv4 octets', () => {
    expect(prefixMatchLength('10.0.0.1', '10.0.0.1')).toBe(4);
    expect(prefixMatchLength('10.0.1.1', '10.0.2.1')).toBe(2);
    expect(prefixMatchLength('192.168.1.1', '10.0.0.1')).toBe(0);
    expect(prefixMatchLength('::1', '127.0.0.1')).toBe(0);
    expect(prefixMatchLength('host', '127.0.0.1')).toBe(0);
  });
});

describe('transport description', () => {
  it('advertises the external IP, keeps configured nets, and defaults the scheme', () => {
    const t = describeTransport(
      { protocol: 'tls', host: '10.0.0.5', port: 5061, externalIp: '203.0.113.9', localNets: ['10.1.0.0/16'], dnsNames: ['sip.example.com'] },
      '10.0.0.5',
      5061,
    );
    expect(t).toMatchObject({
      id: 'tls/10.0.0.5:5061',
      family: 4,
      scheme: 'sips',
      advertisedHost: '203.0.113.9',
      advertisedPort: 5061,
      localNets: ['10.1.0.0/16'],
      dnsNames: ['sip.example.com'],
    });
  });

  it('derives local nets from the local address, and brackets IPv6 in ids', () => {
    const t = describeTransport({ protocol: 'udp', host: '10.0.0.5', port: 0, externalIp: '203.0.113.9' }, '10.0.0.5', 5060);
    expect(t.localNets).toEqual(['10.0.0.0/8']);
    const v6 = describeTransport({ protocol: 'tcp', host: '[::1]', port: 0 }, '::1', 5070);
    expect(v6).toMatchObject({ id: 'tcp/[::1]:5070', family: 6, advertisedHost: '::1', scheme: 'sip', localNets: [] });
  });

  it('a wildcard bind advertises a machine IPv4 (or 127.0.0.1)', () => {
    const t = describeTransport({ protocol: 'udp', host: '0.0.0.0', port: 0 }, '0.0.0.0', 5060);
    expect(t.localAddress).toBe('0.0.0.0');
    expect(t.advertisedHost).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(t.advertisedHost).not.toBe('0.0.0.0');
  });

  it('normalises bracketed and IPv4-mapped addresses', () => {
    expect(normalizeAddress('[::1]')).toBe('::1');
    expect(normalizeAddress('::FFFF:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('FE80::1')).toBe('fe80::1');
  });
});
