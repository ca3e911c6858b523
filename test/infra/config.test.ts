/** Context validation and the small constructs, without a full (bundling) synthesis. */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../infra/lib/config.js';
import { DataTables } from '../../infra/lib/data-tables.js';

const problemsOf = (ctx: Record<string, unknown>): string[] => {
  try {
    readConfig(ctx);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('readConfig', () => {
  it('defaults to ElastiCache, Cognito, plain ws and retained data', () => {
    expect(readConfig({})).toEqual({
      redis: 'elasticache',
      dev: false,
      corsOrigins: ['*'],
      redisNodeType: 'cache.t4g.micro',
      relayMinTasks: 2,
      relayMaxTasks: 10,
    });
  });

  it('reads CLI-style string context', () => {
    const config = readConfig({
      redis: 'upstash',
      upstashSecretArn: 'townsquare/upstash',
      jwtIssuer: 'https://issuer.example.com',
      jwtAudience: 'townsquare',
      jwksUrl: 'https://issuer.example.com/keys',
      dev: 'true',
      relayMinTasks: '3',
      corsOrigins: 'https://app.example.com, https://admin.example.com',
    });
    expect(config).toMatchObject({
      redis: 'upstash',
      upstashSecretArn: 'townsquare/upstash',
      jwt: { issuer: 'https://issuer.example.com', audience: 'townsquare', jwksUrl: 'https://issuer.example.com/keys' },
      dev: true,
      relayMinTasks: 3,
      corsOrigins: ['https://app.example.com', 'https://admin.example.com'],
    });
  });

  it('derives the JWKS URL from the issuer when not given', () => {
    expect(readConfig({ jwtIssuer: 'https://x.auth0.com/', jwtAudience: 'a' }).jwt?.jwksUrl).toBe(
      'https://x.auth0.com/.well-known/jwks.json',
    );
  });

  it('reports every problem at once, naming the context key', () => {
    const problems = problemsOf({
      redis: 'memcached',
      jwtIssuer: 'http://insecure.example.com',
      certificateArn: 'not-an-arn',
      relayMinTasks: 1,
      dev: 'yes',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^redis: /),
      expect.stringMatching(/^jwtIssuer: must be an https/),
      expect.stringMatching(/^jwtAudience: required/),
      expect.stringMatching(/^certificateArn: /),
      expect.stringMatching(/^relayMinTasks: /),
      expect.stringMatching(/^dev: /),
    ]);
  });

  it('rejects contradictory Redis settings', () => {
    expect(problemsOf({ redis: 'upstash' })).toEqual([expect.stringMatching(/^upstashSecretArn: required/)]);
    expect(problemsOf({ upstashSecretArn: 'x' })).toEqual([expect.stringMatching(/^upstashSecretArn: given, but redis/)]);
    expect(problemsOf({ relayDomain: 'relay.example.com' })).toEqual([expect.stringMatching(/^relayDomain: only meaningful/)]);
    expect(problemsOf({ relayMinTasks: 5, relayMaxTasks: 4 })).toEqual([expect.stringMatching(/^relayMaxTasks: /)]);
  });
});

describe('DataTables', () => {
  const synth = (destroyOnRemoval: boolean): Template => {
    const stack = new Stack(new App(), 'T');
    new DataTables(stack, 'Tables', { destroyOnRemoval });
    return Template.fromStack(stack);
  };

  it('retains tables with deletion protection by default', () => {
    const tables = Object.values(synth(false).findResources('AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(4);
    for (const t of tables) {
      expect(t.DeletionPolicy).toBe('Retain');
      expect(t.Properties.DeletionProtectionEnabled).toBe(true);
    }
  });

  it('destroys them in a dev stack (-c dev=true)', () => {
    for (const t of Object.values(synth(true).findResources('AWS::DynamoDB::Table'))) {
      expect(t.DeletionPolicy).toBe('Delete');
      expect(t.Properties.DeletionProtectionEnabled).toBe(false);
    }
  });
});
