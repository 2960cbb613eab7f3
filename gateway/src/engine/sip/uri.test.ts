import { describe, it, expect } from 'vitest';
import { SipUri, parseUri, tryParseUri, isIpAddress, unescapeUriPart, uriSchemeOf } from './uri';
import { uriEquals } from './uri-equality';
import { SipParseError } from './parse-error';

describe('parseUri: sip and sips', () => {
  it('reads every component of a full SIP URI', () => {
    const u = parseUri('sip:alice:secret@Atlanta.COM:5061;transport=TCP;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent');
    expect(u.scheme).toBe('sip');
    expect(u.user).toBe('alice');
    expect(u.password).toBe('secret');
    expect(u.host).toBe('atlanta.com');
    expect(u.port).toBe(5061);
    expect([...u.params]).toEqual([['transport', 'TCP'], ['lr', null], ['maddr', '239.255.255.1']]);
    expect(u.transport).toBe('tcp');
    expect([...u.headers]).toEqual([['subject', 'project%20x'], ['priority', 'urgent']]);
    expect(u.hostport).toBe('atlanta.com:5061');
  });

  it('lower-cases the scheme and parameter names, keeps values and user as written', () => {
    const u = parseUri('SIPS:Bob@Example.com;Transport=WSS;X-Foo=BaR');
    expect(u.scheme).toBe('sips');
    expect(u.user).toBe('Bob');
    expect(u.params.get('transport')).toBe('WSS');
    expect(u.params.get('x-foo')).toBe('BaR');
    expect(u.transport).toBe('wss');
  });

  it('keeps IPv6 references with brackets', () => {
    const u = parseUri('sip:[2001:DB8::1]:5070;transport=udp');
    expect(u.host).toBe('[2001:db8::1]');
    expect(u.port).toBe(5070);
    expect(u.hostport).toBe('[2001:db8::1]:5070');
    expect(parseUri('sip:user@[::1]').host).toBe('[::1]');
  });

  it('accepts a user part holding ; ? / and escapes (RFC 4475 §3.1.1.9, §3.1.1.2)', () => {
    const semi = parseUri('sip:user;par=u%40example.net@example.com');
    expect(semi.user).toBe('user;par=u%40example.net');
    expect(semi.host).toBe('example.com');
    expect(semi.params.size).toBe(0);
    const weird = parseUri("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
    expect(weird.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(weird.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  });

  it('re-serialises canonically and round-trips', () => {
    for (const s of [
      'sip:alice@atlanta.com',
      'sips:bob:pw@biloxi.com:5061;transport=tls;lr?h=v&x=y',
      'sip:[::1]:5060',
      'sip:+15551234567@gw.example.net;user=phone',
      'tel:+1-201-555-0123;phone-context=example.com',
      'urn:service:sos',
    ]) {
      expect(parseUri(s).toString()).toBe(s);
    }
    expect(parseUri('SIP:A@B.COM;LR').toString()).toBe('sip:A@b.com;lr');
  });

  it('clones deeply', () => {
    const a = parseUri('sip:a@b;lr?h=1');
    const b = a.clone();
    b.params.set('transport', 'tcp');
    b.headers.delete('h');
    b.host = 'c';
    expect(a.toString()).toBe('sip:a@b;lr?h=1');
    expect(b.toString()).toBe('sip:a@c;lr;transport=tcp');
  });

  it('builds from a partial init and brackets a bare IPv6 host', () => {
    const u = new SipUri({ host: '::1', port: 5060, user: 'x' });
    expect(u.scheme).toBe('sip');
    expect(u.toString()).toBe('sip:x@[::1]:5060');
    expect(new SipUri().params.size).toBe(0);
  });

  it('rejects malformed SIP URIs with SipParseError', () => {
    for (const bad of [
      'sip:',
      'sip:@example.com',
      'sip:user@',
      'sip:user@host:',
      'sip:user@host:99999',
      'sip:user@host:5x',
      'sip:user@exa mple.com',
      'sip:user@example.com; lr',
      'sip:user@example.com;;lr',
      'sip:user@example.com;=x',
      'sip:us er@example.com',
      'sip:user@[::1',
      'sip:user@[zz::1]',
      'sip:user@999.1.1.1',
      'sip:user@host..com',
      'sip:u%4@host',
      'sip:user@host?noequals',
      '<sip:user@example.com>',
      'user@example.com',
      '1sip:x',
    ]) {
      expect(() => parseUri(bad), bad).toThrow(SipParseError);
      expect(tryParseUri(bad), bad).toBeUndefined();
    }
  });
});

describe('parseUri: tel and other schemes', () => {
  it('puts the tel number in user and reads its parameters (RFC 3966)', () => {
    const t = parseUri('tel:+1-201-555-0123;ext=44');
    expect(t.scheme).toBe('tel');
    expect(t.user).toBe('+1-201-555-0123');
    expect(t.host).toBe('');
    expect(t.params.get('ext')).toBe('44');
    expect(parseUri('tel:7042;phone-context=example.com').user).toBe('7042');
    expect(() => parseUri('tel:+')).toThrow(SipParseError);
    expect(() => parseUri('tel:+12a')).toThrow(SipParseError);
  });

  it('keeps other absolute URIs opaque in host, case preserved (RFC 4475 §3.3.2, §3.3.3, §3.3.4)', () => {
    const u = parseUri('nobodyKnowsThisScheme:totallyopaquecontent');
    expect(u.scheme).toBe('nobodyknowsthisscheme');
    expect(u.host).toBe('totallyopaquecontent');
    expect(parseUri('soap.beep://192.0.2.103:3002').host).toBe('//192.0.2.103:3002');
    expect(parseUri('http://www.example.com').toString()).toBe('http://www.example.com');
    expect(parseUri('isbn:2983792873').host).toBe('2983792873');
    expect(() => parseUri('http:')).toThrow(SipParseError);
    expect(() => parseUri('http://a b')).toThrow(SipParseError);
  });

  it('tells the scheme of a URI text', () => {
    expect(uriSchemeOf('SIP:x')).toBe('sip');
    expect(uriSchemeOf('soap.beep://x')).toBe('soap.beep');
    expect(uriSchemeOf('<sip:x>')).toBeUndefined();
    expect(uriSchemeOf('nocolon')).toBeUndefined();
  });
});

describe('isIpAddress', () => {
  it('recognises IPv4 and IPv6 with or without brackets', () => {
    expect(isIpAddress('192.0.2.1')).toBe(true);
    expect(isIpAddress('255.255.255.255')).toBe(true);
    expect(isIpAddress('::1')).toBe(true);
    expect(isIpAddress('[::1]')).toBe(true);
    expect(isIpAddress('[2001:db8::1]')).toBe(true);
    expect(isIpAddress('256.1.1.1')).toBe(false);
    expect(isIpAddress('example.com')).toBe(false);
    expect(isIpAddress('[example.com]')).toBe(false);
    expect(isIpAddress('')).toBe(false);
  });
});

describe('unescapeUriPart', () => {
  it('decodes %HH once, as UTF-8 (RFC 3261 §19.1.2)', () => {
    expect(unescapeUriPart('%75se%72')).toBe('user');
    expect(unescapeUriPart('I%20have%20spaces')).toBe('I have spaces');
    expect(unescapeUriPart('v%61lue%25%34%31')).toBe('value%41');
    expect(unescapeUriPart('%C3%A9t%C3%A9')).toBe('été');
    expect(unescapeUriPart('100%')).toBe('100%');
  });
});

describe('uriEquals (RFC 3261 §19.1.4)', () => {
  const eq = (a: string, b: string): boolean => uriEquals(parseUri(a), parseUri(b));
  it('follows the equivalent examples of §19.1.4', () => {
    expect(eq('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp')).toBe(true);
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5')).toBe(true);
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;security=on')).toBe(true);
    expect(eq('sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com')).toBe(true);
    expect(eq('sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x')).toBe(true);
  });
  it('follows the non-equivalent examples of §19.1.4', () => {
    expect(eq('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP')).toBe(false);
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060')).toBe(false);
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp')).toBe(true);
    expect(eq('sip:bob@biloxi.com:6000;transport=tcp', 'sip:bob@biloxi.com:6000')).toBe(true);
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting')).toBe(false);
    expect(eq('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4')).toBe(false);
    expect(eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off')).toBe(false);
    expect(eq('sip:a@b', 'sips:a@b')).toBe(false);
    expect(eq('sip:a@b;maddr=x', 'sip:a@b')).toBe(false);
  });
  it('does not unescape twice (RFC 4475 §3.1.1.3)', () => {
    expect(eq('sip:h;n%61me=v%61lue%25%34%31', 'sip:h;name=value%2541')).toBe(true);
    expect(eq('sip:h;name=value%41', 'sip:h;name=valueA')).toBe(true);
    expect(eq('sip:h;n%61me=v%61lue%25%34%31', 'sip:h;name=valueA')).toBe(false);
  });
  it('compares tel numbers without visual separators', () => {
    expect(eq('tel:+1-201-555-0123', 'tel:+12015550123')).toBe(true);
    expect(eq('tel:+12015550123', 'tel:+12015550124')).toBe(false);
  });
});
