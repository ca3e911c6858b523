/** Context validation and the small constructs, without a full (bundling) synthesis. */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TABLE_NAMES } from '../../shared/tables.js';
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
      relayEntry: 'cloudfront',
      wafUpgradeLimit: 1000,
      corsOrigins: ['*'],
      redisNodeType: 'cache.t4g.micro',
      redisMaintenanceWindow: 'sun:04:00-sun:05:00',
      apiRateLimit: 1000,
      apiBurstLimit: 1000,
      relayMinTasks: 2,
      relayMaxTasks: 10,
    });
  });

  it('reads CLI-style string context', () => {
    const config = readConfig({
      redis: 'upstash',
      upstashSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:townsquare/upstash-AbCdEf',
      jwtIssuer: 'https://issuer.example.com',
      jwtAudience: 'townsquare',
      jwksUrl: 'https://issuer.example.com/keys',
      dev: 'true',
      relayMinTasks: '3',
      corsOrigins: 'https://app.example.com, https://admin.example.com',
    });
    expect(config).toMatchObject({
      redis: 'upstash',
      upstashSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:townsquare/upstash-AbCdEf',
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
    expect(problemsOf({ upstashSecretArn: 'x' })).toEqual([
      expect.stringMatching(/^upstashSecretArn: given, but redis/),
      expect.stringMatching(/^upstashSecretArn: must be the secret's complete ARN/),
    ]);
    expect(problemsOf({ relayDomain: 'relay.example.com' })).toEqual([expect.stringMatching(/^relayDomain: only meaningful/)]);
    expect(problemsOf({ relayMinTasks: 5, relayMaxTasks: 4 })).toEqual([expect.stringMatching(/^relayMaxTasks: /)]);
  });
});

describe('relay entry', () => {
  it('is CloudFront by default, plain ws:// only with dev=true, the ALB with a certificate', () => {
    expect(readConfig({}).relayEntry).toBe('cloudfront');
    expect(readConfig({ dev: 'true' }).relayEntry).toBe('plain');
    expect(readConfig({ certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc-123' }).relayEntry).toBe('certificate');
  });

  it('takes a WAF web ACL only for CloudFront, and only a global one', () => {
    const arn = 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/townsquare/0f1e2d3c-aaaa-bbbb-cccc-111122223333';
    expect(readConfig({ wafWebAclArn: arn }).wafWebAclArn).toBe(arn);
    expect(problemsOf({ wafWebAclArn: arn.replace('global', 'regional').replace('us-east-1', 'eu-west-1') })).toEqual([
      expect.stringMatching(/^wafWebAclArn: not a CloudFront-scope/),
    ]);
    expect(problemsOf({ wafWebAclArn: arn, dev: 'true' })).toEqual([expect.stringMatching(/^wafWebAclArn: only meaningful/)]);
  });
});

describe('operations settings', () => {
  it('validates alarmEmail, the API throttle and the maintenance window', () => {
    expect(readConfig({ alarmEmail: 'ops@example.com', apiRateLimit: '200', apiBurstLimit: '400' })).toMatchObject({
      alarmEmail: 'ops@example.com',
      apiRateLimit: 200,
      apiBurstLimit: 400,
    });
    expect(problemsOf({ alarmEmail: 'ops', apiBurstLimit: 9000, redisMaintenanceWindow: 'sunday 4am' })).toEqual([
      expect.stringMatching(/^redisMaintenanceWindow: /),
      expect.stringMatching(/^alarmEmail: /),
      expect.stringMatching(/^apiBurstLimit: /),
    ]);
  });
});

describe('upstashSecretArn', () => {
  it('accepts only the complete ARN, which ECS needs to read the redisUrl key', () => {
    const complete = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:townsquare/upstash-AbCdEf';
    expect(problemsOf({ redis: 'upstash', upstashSecretArn: complete })).toEqual([]);
    for (const partial of ['townsquare/upstash', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:townsquare/upstash']) {
      const [problem] = problemsOf({ redis: 'upstash', upstashSecretArn: partial });
      expect(problem).toMatch(/^upstashSecretArn: must be the secret's complete ARN/);
      expect(problem).toContain('aws secretsmanager describe-secret');
    }
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
    expect(tables).toHaveLength(TABLE_NAMES.length);
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
