/**
 * Building responses from requests (RFC 3261 §8.2.6) and the stateless replies the engine
 * sends on its own (400, 481, 503, ...).
 */
import { SipResponse, type SipRequest } from '../sip/message';
import { getTag, withTag } from '../sip/headers';
import { STATUS_REASONS } from './status-reasons';

export function reasonFor(status: number): string {
  return STATUS_REASONS[status] ?? (status < 200 ? 'Trying' : status < 300 ? 'OK' : 'Error');
}

/**
 * Response skeleton (§8.2.6.2): Via, From, Call-ID, CSeq copied; To copied with our tag added
 * when it has none and the status is not 100. Record-Route is copied for dialog-creating
 * responses (§12.1.1).
 */
export function buildResponse(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const res = new SipResponse(status, reason ?? reasonFor(status));
  for (const via of req.getHeaderLines('Via')) res.addHeader('Via', via);
  res.addHeader('From', req.getHeader('From') ?? '');
  let to = req.getHeader('To') ?? '';
  if (status > 100 && toTag && !getTag(to)) to = withTag(to, toTag);
  res.addHeader('To', to);
  res.addHeader('Call-ID', req.callId);
  res.addHeader('CSeq', req.getHeader('CSeq') ?? '');
  if (status > 100 && status < 300 && (req.method === 'INVITE' || req.method === 'SUBSCRIBE')) {
    for (const rr of req.getHeaderLines('Record-Route')) res.addHeader('Record-Route', rr);
  }
  return res;
}
