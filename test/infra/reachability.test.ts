/**
 * Every compute can reach every service it calls, read from the synthesized
 * template (see reachability.ts for the rules). Issue 12's deploy-breaking bug
 * (relay tasks resolving Secrets Manager to an endpoint that did not admit
 * them) is the kind of failure this catches before a deploy does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../infra/lib/app.js';
import { TemplateNetwork, cidrContains, type Compute } from './reachability.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 180_000 });

const UPSTASH_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:townsquare/upstash-AbCdEf';

function synthTemplate(context: Record<string, unknown>): { template: any; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'townsquare-reach-'));
  // Bundling changes asset hashes only; the network and IAM are the same.
  const { stack } = buildApp({ context: { ...context, 'aws:cdk:bundling-stacks': [] }, nag: false, region: 'us-east-1', outdir });
  return { template: Template.fromStack(stack).toJSON(), outdir };
}

const callsOf = (computes: Compute[], name: RegExp): string[] => {
  const c = computes.find((x) => name.test(x.name));
  expect(c, `a compute matching ${name}`).toBeDefined();
  return c!.calls.map((t) => (t.kind === 'aws' ? t.service : t.kind)).sort();
};

describe.each([
  { mode: 'elasticache', context: {} },
  { mode: 'elasticache dev', context: { dev: 'true' } },
  { mode: 'upstash', context: { redis: 'upstash', upstashSecretArn: UPSTASH_SECRET } },
  {
    mode: 'upstash, own issuer, certificate',
    context: {
      redis: 'upstash',
      upstashSecretArn: UPSTASH_SECRET,
      jwtIssuer: 'https://example.eu.auth0.com/',
      jwtAudience: 'https://api.example.com',
      certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-111122223333',
    },
  },
])('network paths ($mode)', ({ mode, context }) => {
  let template: any;
  let outdir: string;
  beforeAll(() => {
    ({ template, outdir } = synthTemplate(context));
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('lists what each compute calls', () => {
    const computes = new TemplateNetwork(template).computes();
    const redis = mode.startsWith('elasticache') ? 'redis' : 'internet';
    // The relay task: memberships (DynamoDB), Redis, and the JWKS URL (Cognito: an AWS API host; else the internet).
    const jwks = mode.includes('own issuer') ? 'internet' : 'cognito-idp';
    expect(callsOf(computes, /^RelayService[0-9A-F]+$/)).toEqual([jwks, 'dynamodb', redis].sort());
    // The ECS agent on the task's ENI: the image, the log driver and the Redis secret.
    expect(callsOf(computes, /^RelayService[0-9A-F]+ \(execution\)$/)).toEqual(['ecr.api', 'ecr.dkr', 'logs', 's3', 'secretsmanager']);
    // A publishing function: its tables, the Redis credentials, Redis (or Upstash REST).
    expect(callsOf(computes, /^ApiSendMessage/)).toEqual(['dynamodb', redis, 'secretsmanager'].sort());
    expect(callsOf(computes, /^ApiListRooms/)).toEqual(['dynamodb']);
  });

  it('has a network path for every call of every compute', () => {
    const results = new TemplateNetwork(template).checkAll();
    expect(results.length).toBeGreaterThanOrEqual(15);
    const broken = results.filter((r) => !r.ok).map((r) => `${r.compute} → ${r.target}: ${r.path}`);
    expect(broken).toEqual([]);
  });

  if (mode === 'elasticache') {
    it('catches a compute its endpoint does not admit (the check can fail)', () => {
      const network = new TemplateNetwork(template);
      const relay = network.computes().find((c) => / \(execution\)$/.test(c.name))!;
      const broken = structuredClone(template);
      // Drop every rule that lets the relay's security group into an endpoint.
      for (const [id, r] of Object.entries<any>(broken.Resources)) {
        if (r.Type === 'AWS::EC2::SecurityGroupIngress' && relay.vpc!.securityGroups.includes(r.Properties.SourceSecurityGroupId?.['Fn::GetAtt']?.[0]) && r.Properties.FromPort === 443) {
          delete broken.Resources[id];
        }
      }
      const failures = new TemplateNetwork(broken).checkAll().filter((r) => !r.ok);
      expect(failures.map((f) => `${f.compute} → ${f.target}`)).toContain(`${relay.name} → secretsmanager`);
      expect(failures[0]!.path).toMatch(/private DNS/);
    });
  }
});

describe('cidrContains', () => {
  it('compares network prefixes', () => {
    expect(cidrContains('0.0.0.0/0', '10.40.1.0/24')).toBe(true);
    expect(cidrContains('10.40.0.0/16', '10.40.1.0/24')).toBe(true);
    expect(cidrContains('10.40.0.0/24', '10.40.1.0/24')).toBe(false);
    expect(cidrContains('10.40.1.0/24', '10.40.0.0/16')).toBe(false);
  });
});
