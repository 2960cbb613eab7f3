/**
 * Loads the configuration: GATEWAY_CONFIG or --config names a JSON or YAML file; without one,
 * the defaults of schema.ts apply. Errors name the offending path and exit cleanly.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { GatewayConfigSchema, type GatewayConfig, type UserConfig } from './schema';

export class ConfigError extends Error {}

export function parseConfig(raw: unknown): GatewayConfig {
  const result = GatewayConfigSchema.safeParse(raw ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

export function loadConfig(file = process.env.GATEWAY_CONFIG): GatewayConfig {
  if (!file) return parseConfig({});
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read configuration ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`cannot parse configuration ${file}: ${(err as Error).message}`);
  }
  return parseConfig(raw);
}

/** HA1 digests for a user entry (what `gateway hash-password` prints; tests use it too). */
export function userWithPassword(username: string, realm: string, password: string, displayName?: string): UserConfig {
  const h = (alg: string) => createHash(alg).update(`${username}:${realm}:${password}`).digest('hex');
  return { username, displayName, ha1: { md5: h('md5'), sha256: h('sha256') } };
}
