// Covers socket-relay/config.ts loadConfig: defaults, coercion, and every problem reported in one ConfigError.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../socket-relay/config.js';

const minimal = {
  JWT_JWKS_URL: 'http://127.0.0.1:9999/.well-known/jwks.json',
  JWT_ISSUER: 'https://issuer.example',
  MEMBERSHIPS_TABLE: 'townsquare-memberships',
};

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('loadConfig accepted an invalid configuration');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig({ ...minimal })).toEqual({
      ...minimal,
      PORT: 8080,
      HOST: '0.0.0.0',
      MAX_PAYLOAD_BYTES: 64 * 1024,
      AUTH_TIMEOUT_MS: 5000,
      MAX_SUBSCRIPTIONS: 100,
      FRAME_RATE: 50,
      FRAME_BURST: 150,
      SIGNAL_RATE: 20,
      MAX_SIGNAL_BYTES: 4096,
      SUBSCRIBE_RATE: 50,
      SUBSCRIBE_BURST: 200,
      MAX_CONNECTIONS_PER_USER: 100,
      MAX_CONNECTIONS_PER_IP: 1000,
      MAX_PENDING_PER_IP: 64,
      TRUST_PROXY_HOPS: 0,
      HANDSHAKE_TIMEOUT_MS: 10_000,
      JWT_ALGORITHMS: ['RS256', 'ES256'],
      JWT_MAX_LIFETIME_SEC: 86_400,
      MAX_BUFFERED_BYTES: 1024 * 1024,
      HEARTBEAT_MS: 30_000,
      ACCESS_RECHECK_MS: 25_000,
      PRESENCE_EVENT_LIMIT: 500,
      DRAIN_TIMEOUT_MS: 10_000,
      REDIS_CLUSTER: false,
      RELAY_METRICS_SERVICE: 'townsquare-relay',
      LOG_LEVEL: 'info',
    });
  });

  it('treats empty optional values as unset and parses REDIS_CLUSTER as a flag', () => {
    const config = loadConfig({ ...minimal, REDIS_URL: '', JWT_AUDIENCE: '', REDIS_CLUSTER: 'true' });
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.JWT_AUDIENCE).toBeUndefined();
    expect(config.REDIS_CLUSTER).toBe(true);
    expect(() => loadConfig({ ...minimal, REDIS_CLUSTER: 'yes' })).toThrow(/REDIS_CLUSTER/);
    expect(loadConfig({ ...minimal, JWT_ALGORITHMS: ' RS256, PS384 ' }).JWT_ALGORITHMS).toEqual(['RS256', 'PS384']);
    // Symmetric algorithms would let anyone holding the verification secret mint tokens.
    expect(() => loadConfig({ ...minimal, JWT_ALGORITHMS: 'HS256' })).toThrow(/JWT_ALGORITHMS/);
    expect(() => loadConfig({ ...minimal, JWT_ALGORITHMS: 'none' })).toThrow(/JWT_ALGORITHMS/);
    expect(() => loadConfig({ ...minimal, PORT: '70000' })).toThrow(/PORT/);
  });

  it('coerces numeric strings and keeps optional URLs', () => {
    const config = loadConfig({ ...minimal, PORT: '9001', FRAME_RATE: '5', FRAME_BURST: '5', REDIS_URL: 'redis://127.0.0.1:7000' });
    expect(config.PORT).toBe(9001);
    expect(config.FRAME_RATE).toBe(5);
    expect(config.FRAME_BURST).toBe(5);
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:7000');
  });

  it('reports every problem at once in one ConfigError', () => {
    const err = configError({ JWT_ISSUER: 'x', PORT: 'eighty', LOG_LEVEL: 'loud' });
    expect(err.name).toBe('ConfigError');
    const vars = err.problems.map((p) => p.split(':')[0]).sort();
    expect(vars).toEqual(['JWT_JWKS_URL', 'LOG_LEVEL', 'MEMBERSHIPS_TABLE', 'PORT']);
    for (const name of vars) expect(err.message).toContain(name);
  });

  it('names the variable for out-of-range numbers and malformed URLs', () => {
    const err = configError({ ...minimal, MAX_SUBSCRIPTIONS: '0', AUTH_TIMEOUT_MS: '1.5', REDIS_URL: 'not a url' });
    expect(err.problems.map((p) => p.split(':')[0]).sort()).toEqual(['AUTH_TIMEOUT_MS', 'MAX_SUBSCRIPTIONS', 'REDIS_URL']);
  });

  it('rejects FRAME_BURST < FRAME_RATE', () => {
    const err = configError({ ...minimal, FRAME_RATE: '50', FRAME_BURST: '10' });
    expect(err.problems).toEqual(['FRAME_BURST must be >= FRAME_RATE']);
    expect(err.message).toContain('FRAME_BURST');
  });

  it('accepts FRAME_BURST == FRAME_RATE', () => {
    expect(() => loadConfig({ ...minimal, FRAME_RATE: '10', FRAME_BURST: '10' })).not.toThrow();
  });
});
