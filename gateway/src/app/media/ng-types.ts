/**
 * Shapes of rtpengine ng commands and replies, as far as the gateway uses them (rtpengine 10.5,
 * README "The ng Control Protocol"). Replies keep an index signature: rtpengine adds keys between
 * versions and the gateway should not break on them.
 */
import type { BencodeInput } from './bencode';

/** Where an rtpengine listens for ng over UDP. */
export interface NgEndpoint {
  host: string;
  port: number;
}

export function describeEndpoint(endpoint: NgEndpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

export type NgCodecOptions = {
  strip?: string[];
  mask?: string[];
  except?: string[];
  offer?: string[];
  transcode?: string[];
  accept?: string[];
  consume?: string[];
  set?: string[];
};

/** Keys shared by offer and answer. Anything else rtpengine understands can go in `extra`. */
export interface NgSdpParams {
  sdp: string;
  'call-id': string;
  'from-tag': string;
  'to-tag'?: string;
  'via-branch'?: string;
  ICE?: 'remove' | 'force' | 'force-relay' | 'default';
  DTLS?: 'off' | 'passive' | 'active';
  'DTLS-reverse'?: 'passive' | 'active';
  SDES?: string[];
  'transport-protocol'?: string;
  'rtcp-mux'?: string[];
  replace?: string[];
  flags?: string[];
  codec?: NgCodecOptions;
  direction?: [string, string];
  'received-from'?: [string, string];
  'media-address'?: string;
  ptime?: number;
  label?: string;
  [extra: string]: BencodeInput | undefined;
}

export type NgOfferParams = NgSdpParams;
export interface NgAnswerParams extends NgSdpParams {
  'to-tag': string;
}

export interface NgDeleteParams {
  'call-id': string;
  'from-tag'?: string;
  'to-tag'?: string;
  'via-branch'?: string;
  flags?: string[];
  'delete-delay'?: number;
  [extra: string]: BencodeInput | undefined;
}

export interface NgQueryParams {
  'call-id': string;
  'from-tag'?: string;
  'to-tag'?: string;
  [extra: string]: BencodeInput | undefined;
}

export interface NgPlayDtmfParams {
  'call-id': string;
  /** The participant that "generates" the digit; packets go to the other side. */
  'from-tag': string;
  /** 0-9, *, #, A-D (or an event number 0-15). */
  code: string | number;
  duration?: number;
  volume?: number;
  pause?: number;
  [extra: string]: BencodeInput | undefined;
}

/** Every reply: result is 'ok' / 'pong' on success; 'error' / 'load limit' are thrown as NgCommandError. */
export interface NgReply {
  result: string;
  'error-reason'?: string;
  warning?: string;
  [key: string]: unknown;
}

export interface NgSdpReply extends NgReply {
  sdp: string;
}

export interface NgStreamStats {
  packets?: number;
  bytes?: number;
  errors?: number;
}

export interface NgStream {
  'local port'?: number;
  endpoint?: { family?: string; address?: string; port?: number };
  'advertised endpoint'?: { family?: string; address?: string; port?: number };
  flags?: string[];
  stats?: NgStreamStats;
  [key: string]: unknown;
}

export interface NgMedia {
  index?: number;
  type?: string;
  protocol?: string;
  flags?: string[];
  streams?: NgStream[];
  [key: string]: unknown;
}

export interface NgTagInfo {
  tag?: string;
  'in dialogue with'?: string;
  medias?: NgMedia[];
  [key: string]: unknown;
}

export interface NgQueryReply extends NgReply {
  created?: number;
  'last signal'?: number;
  tags?: { [tag: string]: NgTagInfo };
  totals?: { RTP?: NgStreamStats; RTCP?: NgStreamStats };
}

export interface NgListReply extends NgReply {
  calls: string[];
}

export interface NgStatisticsReply extends NgReply {
  statistics?: {
    currentstatistics?: { sessionsown?: number; sessionstotal?: number; transcodedmedia?: number; [k: string]: unknown };
    [key: string]: unknown;
  };
}
