/**
 * The pieces of RFC 4733 -> SIP INFO that need no call: Recv-Info parsing (RFC 6086), the INFO
 * request, which dialogs asked, the call registry's observers, and the DTMF event socket surviving
 * garbage and a throwing handler (real UDP datagrams on loopback).
 */
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import { dtmfInfoRequest, parseDtmfInfo, recvInfoListsDtmf } from '../../gateway/src/app/calls/dtmf-info';
import { legAsksForDtmfInfo } from '../../gateway/src/app/calls/dtmf-to-info';
import { CallRegistry, type CallObserver } from '../../gateway/src/app/calls/call-registry';
import type { BridgedCall } from '../../gateway/src/app/calls/bridged-call';
import { DtmfEventListener, type DtmfEvent } from '../../gateway/src/app/media/dtmf-events';
import { until } from './call-fixture';

describe('Recv-Info: which legs asked for DTMF as INFO', () => {
  it('finds the dtmf Info Package in a list, with parameters, in any case, over several headers', () => {
    expect(recvInfoListsDtmf('dtmf')).toBe(true);
    expect(recvInfoListsDtmf(' foo, DTMF;x=1 ')).toBe(true);
    expect(recvInfoListsDtmf(['foo', 'dtmf'])).toBe(true);
    expect(recvInfoListsDtmf('')).toBe(false); // RFC 6086: empty Recv-Info = no packages
    expect(recvInfoListsDtmf('dtmf-relay, infoDtmfX')).toBe(false);
    expect(recvInfoListsDtmf(undefined)).toBe(false);
  });

  it('reads the INVITE of a UAS dialog and the 2xx of a UAC dialog', () => {
    const message = (headers: Record<string, string>) => ({ get: (name: string) => headers[name.toLowerCase()] });
    const dialog = (type: 'uas' | 'uac', req: Record<string, string>, res: Record<string, string>) =>
      ({ type, req: message(req), res: message(res) }) as unknown as Srf.Dialog;
    expect(legAsksForDtmfInfo(dialog('uas', { 'recv-info': 'dtmf' }, {}))).toBe(true);
    expect(legAsksForDtmfInfo(dialog('uas', {}, { 'recv-info': 'dtmf' }))).toBe(false); // our own 200 does not count
    expect(legAsksForDtmfInfo(dialog('uac', {}, { 'recv-info': 'dtmf' }))).toBe(true);
    expect(legAsksForDtmfInfo(dialog('uac', { 'recv-info': 'dtmf' }, {}))).toBe(false); // nor our own INVITE
    expect(legAsksForDtmfInfo({ type: 'uac' } as unknown as Srf.Dialog)).toBe(false);
  });

  it('builds an INFO of the dtmf package that the gateway\'s own parser reads back', () => {
    const { headers, body } = dtmfInfoRequest('#', 180);
    expect(headers).toEqual({ 'Info-Package': 'dtmf', 'Content-Disposition': 'Info-Package', 'Content-Type': 'application/dtmf-relay' });
    expect(body).toBe('Signal=#\r\nDuration=180\r\n');
    expect(parseDtmfInfo(headers['Content-Type'], body)).toEqual({ digit: '#', durationMs: 180 });
  });
});

describe('call registry observers', () => {
  const call = (id: string) => ({ id }) as unknown as BridgedCall;

  it('tells observers about calls added and removed (once), survives a throwing observer, and stops on request', () => {
    const registry = new CallRegistry();
    const seen: string[] = [];
    const observer: CallObserver = { added: (c) => seen.push(`+${c.id}`), removed: (c) => seen.push(`-${c.id}`) };
    const stop = registry.observe(observer);
    registry.observe({ added: () => { throw new Error('boom'); }, removed: () => { throw new Error('boom'); } });
    const a = call('a');
    registry.add(a);
    registry.add(a); // the same call again: nothing new
    const a2 = call('a'); // another call under the same id replaces the first
    registry.add(a2);
    registry.remove(a); // no longer registered: nothing
    registry.remove(a2);
    expect(seen).toEqual(['+a', '-a', '+a', '-a']);
    stop();
    registry.add(call('b'));
    expect(seen).toHaveLength(4);
    expect(registry.size).toBe(1);
  });
});

describe('DTMF event socket', () => {
  it('ignores garbage and survives a throwing handler; later events still arrive', async () => {
    const listener = new DtmfEventListener({ host: '127.0.0.1', port: 0 });
    const { port } = await listener.start();
    const sender = dgram.createSocket('udp4');
    const send = (text: string) => new Promise<void>((resolve) => sender.send(text, port, '127.0.0.1', () => resolve()));
    const got: DtmfEvent[] = [];
    try {
      listener.subscribe('c1', () => {
        throw new Error('handler bug');
      });
      listener.on('dtmf', (event: DtmfEvent) => got.push(event));
      await send('not json');
      await send('{"callid":"c1","source_tag":"B","event":99}');
      await send('{"callid":"c1","source_tag":"B","tags":["A","B"],"type":"DTMF","event":11,"duration":200,"volume":10}');
      await send('{"callid":"c2","source_tag":"B","tags":["A","B"],"type":"DTMF","event":1,"duration":120,"volume":10}');
      await until(() => got.map((e) => e.digit), (d) => d.length === 2, 5000, 'two events');
      expect(got.map((e) => [e.callId, e.digit, e.durationMs])).toEqual([
        ['c1', '#', 200],
        ['c2', '1', 120],
      ]);
      expect(listener.ignored).toBe(2);
    } finally {
      sender.close();
      listener.stop();
    }
  });
});
