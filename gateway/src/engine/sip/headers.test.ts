import { describe, it, expect } from 'vitest';
import {
  formatNameAddr, formatVia, getHeaderParam, getTag, parseCSeq, parseNameAddr, parseRAck, parseVia,
  removeHeaderParam, setHeaderParam, viaBranch, withTag,
} from './headers';
import { SipParseError } from './parse-error';

describe('parseNameAddr', () => {
  it('reads a quoted display name, the URI and header parameters', () => {
    const n = parseNameAddr('"Alice \\"Al\\" Smith" <sip:alice@atlanta.com;transport=tcp>;tag=1928301774;q=0.7');
    expect(n.displayName).toBe('Alice "Al" Smith');
    expect(n.uri).toBe('sip:alice@atlanta.com;transport=tcp');
    expect([...n.params]).toEqual([['tag', '1928301774'], ['q', '0.7']]);
  });

  it('reads token display names, glued or not to "<" (RFC 4475 §3.1.1.6)', () => {
    expect(parseNameAddr('caller<sip:caller@example.com>;tag=323').displayName).toBe('caller');
    const n = parseNameAddr("token1~` token2'+_   token3*%!.- <sip:mundane@example.com>");
    expect(n.displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(parseNameAddr('<sip:a@b>').displayName).toBeUndefined();
  });

  it('tolerates UTF-8 letters in an unquoted display name, and quotes them when formatting', () => {
    const n = parseNameAddr('Zoë Ñandú <sip:z@b>;tag=1');
    expect(n.displayName).toBe('Zoë Ñandú');
    expect(formatNameAddr(n)).toBe('"Zoë Ñandú" <sip:z@b>;tag=1');
  });

  it('gives every parameter of an addr-spec to the header (RFC 3261 §20.10)', () => {
    const bare = parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam');
    expect(bare.uri).toBe('sip:+19725552222@gw1.example.net');
    expect(bare.params.get('unknownparam')).toBeNull();
    const bracketed = parseNameAddr('<sip:+19725552222@gw1.example.net;unknownparam>');
    expect(bracketed.uri).toBe('sip:+19725552222@gw1.example.net;unknownparam');
    expect(bracketed.params.size).toBe(0);
  });

  it('allows white space around ; and = in parameters', () => {
    const n = parseNameAddr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
    expect(n.uri).toBe('sip:vivekg@chair-dnrc.example.com');
    expect(n.params.get('tag')).toBe('1918181833n');
  });

  it('keeps quoted parameter values with their quotes', () => {
    const n = parseNameAddr('<sip:a@b>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1');
    expect(n.params.get('+sip.instance')).toBe('"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"');
    expect(n.params.get('reg-id')).toBe('1');
  });

  it('accepts any URI scheme (RFC 4475 §3.3.4) and the Contact wildcard', () => {
    expect(parseNameAddr('isbn:2983792873').uri).toBe('isbn:2983792873');
    expect(parseNameAddr('<http://www.example.com>;tag=3234233').uri).toBe('http://www.example.com');
    expect(parseNameAddr(' * ')).toEqual({ uri: '*', params: new Map(), wildcard: true });
  });

  it('rejects what RFC 4475 calls malformed', () => {
    const bad = [
      '"Mr. J. User <sip:j.user@example.com>', // unterminated quote (§3.1.2.6)
      '"Watson, Thomas" < sip:t.watson@example.org >', // spaces in addr-spec (§3.1.2.14)
      'Bell, Alexander <sip:a.g.bell@example.com>;tag=43', // non-token display name (§3.1.2.15)
      'sip:user@example.com?Route=%3Csip:sip.example.com%3E', // '?' outside <> (§3.1.2.13)
      '"Joe" <sip:joe@example.org>;;;;', // empty parameters (§3.1.2.1)
      '<sip:a@b', // no '>'
      '"Joe" sip:joe@example.org', // quoted name without <>
      '<sip:a@b> junk',
      '<sip:a@b>;tag=',
      '<notauri>',
      '',
    ];
    for (const v of bad) expect(() => parseNameAddr(v), v).toThrow(SipParseError);
  });
});

describe('formatNameAddr', () => {
  it('always uses <uri>, quotes display names only when needed', () => {
    expect(formatNameAddr({ uri: 'sip:a@b', params: new Map([['tag', 'x'], ['lr', null]]) })).toBe('<sip:a@b>;tag=x;lr');
    expect(formatNameAddr({ displayName: 'Alice', uri: 'sip:a@b', params: new Map() })).toBe('Alice <sip:a@b>');
    expect(formatNameAddr({ displayName: 'Bell, Alexander', uri: 'sip:a@b', params: new Map() })).toBe('"Bell, Alexander" <sip:a@b>');
    expect(formatNameAddr({ displayName: 'J Rosenberg \\"', uri: 'sip:a@b', params: new Map() })).toBe('"J Rosenberg \\\\\\"" <sip:a@b>');
    expect(formatNameAddr({ displayName: 'evil\r\nVia: x', uri: 'sip:a@b', params: new Map() })).toBe('"evil Via: x" <sip:a@b>');
    expect(formatNameAddr({ uri: '*', params: new Map(), wildcard: true })).toBe('*');
  });

  it('round-trips through parseNameAddr', () => {
    for (const v of ['"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:a@example.com>', '"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>;tag=98asjd8', 'Bob <sips:bob@biloxi.com;transport=tls>;expires=60']) {
      const n = parseNameAddr(v);
      expect(parseNameAddr(formatNameAddr(n))).toEqual(n);
    }
    const controls = '"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:a@example.com>';
    expect(formatNameAddr(parseNameAddr(controls))).toBe(controls);
  });
});

describe('header parameters', () => {
  it('finds parameters outside <> and quotes, case-insensitively', () => {
    const v = '"a;tag=no" <sip:a@b;tag=no>;TAG=yes;lr;x = " ; "';
    expect(getHeaderParam(v, 'tag')).toBe('yes');
    expect(getHeaderParam(v, 'lr')).toBeNull();
    expect(getHeaderParam(v, 'x')).toBe('" ; "');
    expect(getHeaderParam(v, 'missing')).toBeUndefined();
    expect(getHeaderParam('sip:a@b;tag=z', 'tag')).toBe('z');
  });

  it('searches only the first value of a comma list', () => {
    const via = 'SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2;rport';
    expect(viaBranch(via)).toBe('z9hG4bK1');
    expect(getHeaderParam(via, 'rport')).toBeUndefined();
    expect(setHeaderParam(via, 'received', '192.0.2.1')).toBe('SIP/2.0/UDP a;branch=z9hG4bK1;received=192.0.2.1, SIP/2.0/UDP b;branch=z9hG4bK2;rport');
  });

  it('adds, replaces and removes parameters, leaving the rest of the text alone', () => {
    expect(setHeaderParam('<sip:a@b>;tag=1;x', 'tag', '2')).toBe('<sip:a@b>;tag=2;x');
    expect(setHeaderParam('<sip:a@b>;x ;tag = 1', 'tag', '2')).toBe('<sip:a@b>;x ;tag=2');
    expect(setHeaderParam('<sip:a@b;lr>', 'lr', null)).toBe('<sip:a@b;lr>;lr');
    expect(setHeaderParam('SIP/2.0/UDP h;rport', 'rport', '5062')).toBe('SIP/2.0/UDP h;rport=5062');
    expect(removeHeaderParam('<sip:a@b>;tag=1;x', 'tag')).toBe('<sip:a@b>;x');
    expect(removeHeaderParam('<sip:a@b>;x ; tag=1', 'tag')).toBe('<sip:a@b>;x');
    expect(removeHeaderParam('<sip:a@b>', 'tag')).toBe('<sip:a@b>');
  });

  it('reads and sets From/To tags', () => {
    expect(getTag('Alice <sip:a@b>;tag=abc')).toBe('abc');
    expect(getTag('sip:a@b')).toBeUndefined();
    expect(getTag('<sip:a@b>;tag')).toBeUndefined();
    expect(withTag('<sip:bob@biloxi.com>', 'xyz')).toBe('<sip:bob@biloxi.com>;tag=xyz');
    expect(withTag('sip:bob@biloxi.com ', 'xyz')).toBe('sip:bob@biloxi.com;tag=xyz ');
  });
});

describe('Via', () => {
  it('reads protocol, transport, sent-by and parameters, with LWS anywhere the grammar allows it', () => {
    const v = parseVia('SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw');
    expect(v).toEqual({ protocol: 'SIP/2.0', transport: 'UDP', host: '192.0.2.2', port: undefined, params: new Map([['branch', '390skdjuw']]) });
    const w = parseVia('SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8');
    expect(w.transport).toBe('TCP');
    expect(w.host).toBe('spindle.example.com');
    expect(w.params.get('branch')).toBe('z9hG4bK9ikj8');
    const x = parseVia('SIP/2.0/wss [2001:DB8::9]:443;rport;received=192.0.2.1;branch=z9hG4bKx');
    expect(x.transport).toBe('WSS');
    expect(x.host).toBe('[2001:db8::9]');
    expect(x.port).toBe(443);
    expect(x.params.get('rport')).toBeNull();
    expect(parseVia('SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en').transport).toBe('UNKNOWN');
    expect(parseVia('SIP/2.0/UDP host.example.com : 5060').port).toBe(5060);
  });

  it('formats back', () => {
    const v = parseVia('SIP/2.0/TCP Client.Example.com:5061;branch=z9hG4bK74bf9;rport');
    v.params.set('received', '192.0.2.7');
    v.params.set('rport', '4000');
    expect(formatVia(v)).toBe('SIP/2.0/TCP client.example.com:5061;branch=z9hG4bK74bf9;rport=4000;received=192.0.2.7');
    expect(formatVia({ protocol: 'SIP/2.0', transport: 'UDP', host: '::1', port: 5060, params: new Map() })).toBe('SIP/2.0/UDP [::1]:5060');
  });

  it('rejects malformed via-parms', () => {
    for (const bad of [
      'SIP/2.0/UDP 192.0.2.15;;', // RFC 4475 §3.1.2.1
      ';',
      'SIP/2.0 host',
      'SIP/2.0/UDP',
      'SIP/2.0/UDPhost',
      'SIP/2.0/UDP host:',
      'SIP/2.0/UDP host:70000',
      'SIP/2.0/UDP bad_host!',
      'SIP/2.0/UDP host;branch=',
      'SIP/2.0/UDP host;rport=x',
      'SIP/2.0/UDP host;ttl=300',
      'SIP/2.0/UDP [::1;branch=x',
    ]) {
      expect(() => parseVia(bad), bad).toThrow(SipParseError);
    }
  });

  it('finds the branch', () => {
    expect(viaBranch('SIP/2.0/UDP h;branch=z9hG4bKabc;rport')).toBe('z9hG4bKabc');
    expect(viaBranch('SIP/2.0/UDP h')).toBeUndefined();
  });
});

describe('CSeq and RAck', () => {
  it('parses CSeq, leading zeros and folded white space included', () => {
    expect(parseCSeq('0009 INVITE')).toEqual({ seq: 9, method: 'INVITE' });
    expect(parseCSeq(" 139122385   !interesting-Method0123456789_*+`.%indeed'~ ")).toEqual({ seq: 139122385, method: "!interesting-Method0123456789_*+`.%indeed'~" });
    expect(parseCSeq('2147483647 BYE').seq).toBe(2147483647);
  });

  it('rejects numbers of 2**31 and more (RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.4) and bad shapes', () => {
    for (const bad of ['2147483648 INVITE', '36893488147419103232 REGISTER', '-1 INVITE', 'INVITE', '1', '1 INVITE x', '1 IN,VITE', 'x INVITE', '']) {
      expect(() => parseCSeq(bad), bad).toThrow(SipParseError);
    }
  });

  it('parses RAck (RFC 3262 §7.2)', () => {
    expect(parseRAck('776656 1 INVITE')).toEqual({ rseq: 776656, cseq: 1, method: 'INVITE' });
    for (const bad of ['0 1 INVITE', '1 INVITE', '1 2 3 4', 'a 1 INVITE', '2147483648 1 INVITE']) {
      expect(() => parseRAck(bad), bad).toThrow(SipParseError);
    }
  });
});
