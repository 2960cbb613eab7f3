/**
 * The public face of the SIP message layer: the message model, URIs, header grammars, the parser
 * and the pre-processing validation (RFC 3261 §7, §19, §20, §25; RFC 4475).
 */
export {
  COMPACT_FORMS,
  canonicalHeaderName,
  headerKey,
  splitHeaderValues,
  SipMessage,
  SipRequest,
  SipResponse,
  type AnySipMessage,
  type SipHeader,
} from './message';
export { SipUri, parseUri, tryParseUri, isIpAddress, isUriScheme, uriSchemeOf, unescapeUriPart, type SipUriInit } from './uri';
export { uriEquals } from './uri-equality';
export {
  parseNameAddr,
  formatNameAddr,
  getHeaderParam,
  setHeaderParam,
  removeHeaderParam,
  getTag,
  withTag,
  parseVia,
  formatVia,
  viaBranch,
  parseCSeq,
  parseRAck,
  type NameAddr,
  type Via,
} from './headers';
export { parseMessage, SipParseError, DEFAULT_PARSE_LIMITS, type ParseLimits } from './parser';
export { validateRequest, validateResponse, type Rejection } from './validate';
