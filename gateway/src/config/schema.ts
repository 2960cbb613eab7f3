/**
 * The gateway's configuration, validated with zod. One file (JSON or YAML) or defaults for local
 * development; see loader.ts. Every section has working defaults so `npm start` needs no file.
 */
import { z } from 'zod';

/** A user who may register and call. Passwords are never stored in clear: HA1 digests only. */
export const UserSchema = z.object({
  username: z.string().min(1).regex(/^[A-Za-z0-9._~!$&'()*+,;=%-]+$/, 'username must be a valid SIP user part'),
  displayName: z.string().optional(),
  /** HA1 = H(username:realm:password) for MD5 and SHA-256 (RFC 7616 §3.4.2, RFC 8760). */
  ha1: z.object({ md5: z.string().regex(/^[0-9a-f]{32}$/), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
});

/** A desk phone reachable at a fixed address, without registering. */
export const StaticPhoneSchema = z.object({
  username: z.string().min(1),
  /** SIP URI to send calls to, e.g. sip:bob@127.0.0.1:5080;transport=udp */
  uri: z.string().regex(/^sips?:/),
});

export const RtpengineSchema = z.object({
  /** local: start rtpengine-daemon on this machine; remote: use the listed ones. */
  mode: z.enum(['local', 'remote']).default('local'),
  local: z
    .object({
      binary: z.string().default('rtpengine'),
      /** Media address rtpengine binds and advertises (interface=). */
      interface: z.string().default('127.0.0.1'),
      ngHost: z.string().default('127.0.0.1'),
      ngPort: z.number().int().min(1).max(65535).default(22222),
      portMin: z.number().int().default(30000),
      portMax: z.number().int().default(30999),
      extraArgs: z.array(z.string()).default([]),
    })
    .prefault({}),
  remote: z.array(z.object({ host: z.string(), port: z.number().int() })).default([]),
  /** ng command timeout per try, and tries (the ng exchange must survive a lost datagram). */
  timeoutMs: z.number().int().min(50).default(1000),
  retries: z.number().int().min(0).default(2),
  healthIntervalMs: z.number().int().min(100).default(5000),
  /**
   * Where the app listens for rtpengine's RFC 4733 events (--dtmf-log-dest), which it sends as SIP
   * INFO to legs that asked for them (Recv-Info: dtmf, RFC 6086; app/calls/dtmf-to-info.ts).
   * Left out: on in local mode (a free port on 127.0.0.1, passed to the daemon it starts), off in
   * remote mode. `false`: off. In remote mode every rtpengine must be started with
   * --dtmf-log-dest=<host>:<port> of this listener (a fixed port, on an address only they reach).
   */
  dtmfEvents: z
    .union([z.literal(false), z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(0) })])
    .optional(),
  /** Media policy per call (see app/media/leg-profiles.ts). */
  media: z
    .object({
      codecPolicy: z.enum(['passthrough', 'opus-on-webrtc']).default('passthrough'),
      legacyCodecs: z.array(z.string()).default(['PCMU', 'PCMA']),
      injectDtmf: z.boolean().default(true),
      strictSource: z.boolean().default(true),
      enforceDirection: z.boolean().default(true),
      candidateNetworks: z.array(z.string()).optional(),
    })
    .prefault({}),
});

export const RegistrarSchema = z.object({
  minExpires: z.number().int().min(1).default(60),
  maxExpires: z.number().int().min(1).default(3600),
  defaultExpires: z.number().int().min(1).default(600),
  /** How long a WebSocket binding survives its connection closing. */
  wsGraceMs: z.number().int().min(0).default(5000),
  /** Lifetime of a digest nonce. */
  nonceTtlSeconds: z.number().int().min(5).default(300),
});

export const GatewayConfigSchema = z.object({
  /** Digest realm and the domain users are addressed in. */
  realm: z.string().default('gateway.local'),
  domain: z.string().default('gateway.local'),
  users: z.array(UserSchema).default([]),
  phones: z.array(StaticPhoneSchema).default([]),
  registrar: RegistrarSchema.prefault({}),
  rtpengine: RtpengineSchema.prefault({}),
  calls: z
    .object({
      /** How long a blind-transfer target may ring before it is CANCELled (the transfer then fails with 408). */
      transferRingTimeoutSeconds: z.number().min(1).max(600).default(60),
    })
    .prefault({}),
  http: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8088),
      /** SIP WebSocket URL the page connects to; derived from the engine's ws/wss contact when absent. */
      sipWebSocketUrl: z.string().optional(),
      /** PEM files; without them the HTTP server and WS listener are plain (local development only). */
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
    })
    .prefault({}),
  /** Engine listen contacts used by `gateway start` (ignored when the app runs against a real drachtio). */
  sip: z
    .object({
      contacts: z.array(z.string()).default(['sip:127.0.0.1:5060;transport=udp,tcp', 'sip:127.0.0.1:8080;transport=ws']),
      /** PEM files for tls and wss contacts (default: the http certificate). */
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
    })
    .prefault({}),
});

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;
export type UserConfig = z.infer<typeof UserSchema>;
export type StaticPhone = z.infer<typeof StaticPhoneSchema>;
export type RtpengineConfig = z.infer<typeof RtpengineSchema>;
export type RegistrarConfig = z.infer<typeof RegistrarSchema>;
