/**
 * REFER on a bridged call (RFC 3515): a Refer-To with an embedded Replaces is an attended
 * transfer (RFC 5589 §7, attended-transfer.ts), any other a blind one (§6, blind-transfer.ts).
 */
import type Srf from 'drachtio-srf';
import type { LegId } from '../media/media-session';
import { attendedTransfer } from './attended-transfer';
import { blindTransfer, type TransferDeps } from './blind-transfer';
import type { BridgedCall } from './bridged-call';
import { parseReferTo } from './refer-request';

export async function handleRefer(d: TransferDeps, call: BridgedCall, leg: LegId, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
  const target = parseReferTo(req.get('Refer-To'));
  if (!target) return void res.send(400, 'Bad Request - Refer-To missing or malformed', {});
  if (target.replaces) return attendedTransfer(d, call, leg, target.replaces, req, res);
  return blindTransfer(d, call, leg, target.uri, req, res);
}
