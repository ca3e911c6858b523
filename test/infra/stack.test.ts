/**
 * Synthesis tests for the CDK app, in both Redis modes. Each mode is
 * synthesized once (NodejsFunction bundles every handler with esbuild, which
 * takes a few seconds) and every assertion reads that one template.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { routes } from '../../functions/routes.js';
import { tableEnvVar, type TableName } from '../../shared/tables.js';
import { buildApp } from '../../infra/lib/app.js';
import { RedisCluster } from '../../infra/lib/redis-cluster.js';
import { ORIGIN_VERIFY_HEADER } from '../../infra/lib/relay-edge.js';
import type { EdgeWafStack } from '../../infra/lib/edge-waf.js';
import { CachePolicy } from 'aws-cdk-lib/aws-cloudfront';
import type { TownsquareStack } from '../../infra/lib/townsquare-stack.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 180_000 });

const UPSTASH_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:townsquare/upstash-AbCdEf';
const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-111122223333';
const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

interface Synth {
  app: App;
  stack: TownsquareStack;
  template: Template;
  outdir: string;
}

function synth(context: Record<string, unknown>): Synth {
  const outdir = mkdtempSync(join(tmpdir(), 'townsquare-cdk-'));
  const { app, stack } = buildApp({ context, nag: false, region: 'us-east-1', outdir });
  return { app, stack, template: Template.fromStack(stack), outdir };
}

type Resources = Record<string, { Type: string; Properties: Record<string, any>; DeletionPolicy?: string }>;
const resourcesOf = (t: Template, type: string): Resources => t.findResources(type) as Resources;
const tableLogicalIds = (s: Synth): Record<TableName, string> => {
  const ids = {} as Record<TableName, string>;
  for (const name of Object.keys(tableEnvVar) as TableName[]) {
    ids[name] = s.stack.getLogicalId(s.stack.data.tables[name].node.defaultChild as never);
  }
  return ids;
};

/** The Lambda function (logical id) behind a route key. */
function functionForRoute(t: Template, routeKey: string): string {
  const route = Object.values(resourcesOf(t, 'AWS::ApiGatewayV2::Route')).find((r) => r.Properties.RouteKey === routeKey);
  expect(route, `route ${routeKey}`).toBeDefined();
  const integrationId = route!.Properties.Target['Fn::Join'][1][1].Ref as string;
  const integration = resourcesOf(t, 'AWS::ApiGatewayV2::Integration')[integrationId]!;
  return integration.Properties.IntegrationUri['Fn::GetAtt'][0] as string;
}

function nagViolations(app: App): string[] {
  return new AwsSolutionsChecks()
    .validateScope(app)
    .violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
}

describe.each([
  { mode: 'elasticache', context: {} },
  {
    mode: 'upstash',
    context: {
      redis: 'upstash',
      upstashSecretArn: UPSTASH_SECRET,
      jwtIssuer: 'https://example.eu.auth0.com/',
      jwtAudience: 'https://api.example.com',
      certificateArn: CERT,
      relayDomain: 'relay.example.com',
    },
  },
])('Townsquare stack ($mode)', ({ mode, context }) => {
  let s: Synth;
  beforeAll(() => {
    s = synth(context);
  });
  afterAll(() => {
    if (s) rmSync(s.outdir, { recursive: true, force: true });
  });

  it('routes every API route to its own Lambda through a JWT authorizer; scoped routes through their own, with the scope', () => {
    const authorizers = resourcesOf(s.template, 'AWS::ApiGatewayV2::Authorizer');
    expect(Object.keys(authorizers)).toHaveLength(2);
    const idOf = (name: string) => Object.entries(authorizers).find(([, a]) => a.Properties.Name === name)![0];
    for (const authorizer of Object.values(authorizers)) {
      expect(authorizer.Properties.AuthorizerType).toBe('JWT');
      expect(authorizer.Properties.IdentitySource).toEqual(['$request.header.Authorization']);
    }
    const userAudiences = authorizers[idOf('JwtAuthorizer')]!.Properties.JwtConfiguration.Audience;
    const notifyAudiences = authorizers[idOf('NotifyAuthorizer')]!.Properties.JwtConfiguration.Audience;
    expect(userAudiences).toHaveLength(1);
    // End-user tokens reach the notify route's scope check (403), and only there does the machine client count.
    expect(notifyAudiences).toEqual(expect.arrayContaining(userAudiences));
    expect(notifyAudiences).toHaveLength(mode === 'elasticache' ? 2 : 1);
    const scope = mode === 'elasticache' ? 'townsquare/notify' : 'notify';

    const routeResources = Object.values(resourcesOf(s.template, 'AWS::ApiGatewayV2::Route'));
    expect(routeResources.map((r) => r.Properties.RouteKey).sort()).toEqual(routes.map((r) => r.routeKey).sort());
    for (const r of routeResources) {
      const scoped = routes.find((d) => d.routeKey === r.Properties.RouteKey)!.scope !== undefined;
      expect(r.Properties.AuthorizationType, r.Properties.RouteKey).toBe('JWT');
      expect(r.Properties.AuthorizerId, r.Properties.RouteKey).toEqual({ Ref: idOf(scoped ? 'NotifyAuthorizer' : 'JwtAuthorizer') });
      expect(r.Properties.AuthorizationScopes, r.Properties.RouteKey).toEqual(scoped ? [scope] : undefined);
    }
    expect(routeResources.filter((r) => r.Properties.AuthorizationScopes).map((r) => r.Properties.RouteKey)).toEqual(['POST /notifications']);
    const notifyFn = resourcesOf(s.template, 'AWS::Lambda::Function')[functionForRoute(s.template, 'POST /notifications')]!;
    expect(notifyFn.Properties.Environment.Variables.NOTIFY_SCOPE).toBe(scope);
    const fns = new Set(routes.map((r) => functionForRoute(s.template, r.routeKey)));
    expect(fns.size).toBe(routes.length);
    for (const integration of Object.values(resourcesOf(s.template, 'AWS::ApiGatewayV2::Integration'))) {
      expect(integration.Properties.PayloadFormatVersion).toBe('2.0');
    }
  });

  it('runs handlers on Node.js 22, arm64, 512 MB (1,769 for POST /notifications: one vCPU; 1,024 for the document state routes), 10 s, bundled ESM with source maps', () => {
    const memory: Record<string, number> = { 'POST /notifications': 1769, 'GET /documents/{docId}': 1024, 'POST /documents/{docId}/updates': 1024 };
    for (const r of routes) {
      const fn = resourcesOf(s.template, 'AWS::Lambda::Function')[functionForRoute(s.template, r.routeKey)]!;
      expect(fn.Properties, r.routeKey).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        MemorySize: memory[r.routeKey] ?? 512,
        Timeout: 10,
        Handler: 'index.handler',
      });
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
      for (const [name, envVar] of Object.entries(tableEnvVar)) {
        expect(fn.Properties.Environment.Variables[envVar], `${r.routeKey} ${envVar}`).toEqual({
          Ref: tableLogicalIds(s)[name as TableName],
        });
      }
      expect(fn.Properties.LoggingConfig?.LogGroup, `${r.routeKey} has its own log group`).toBeDefined();
    }
    const logGroups = Object.values(resourcesOf(s.template, 'AWS::Logs::LogGroup'));
    expect(logGroups.every((g) => typeof g.Properties.RetentionInDays === 'number')).toBe(true);
  });

  it('creates on-demand tables with PITR, TTL on idempotency and the byUser index', () => {
    const ids = tableLogicalIds(s);
    const tables = resourcesOf(s.template, 'AWS::DynamoDB::Table');
    expect(Object.keys(tables).sort()).toEqual(Object.values(ids).sort());
    for (const t of Object.values(tables)) {
      expect(t.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(t.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(t.Properties.SSESpecification).toEqual({ SSEEnabled: true });
      expect(t.DeletionPolicy).toBe('Retain');
      expect(t.Properties.DeletionProtectionEnabled).toBe(true);
    }
    expect(tables[ids.idempotency]!.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    // The inbox: a bounded history (every item expires), keyed by user then notification.
    expect(tables[ids.inbox]!.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(tables[ids.inbox]!.Properties.KeySchema).toEqual([
      { AttributeName: 'userId', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(tables[ids.memberships]!.Properties.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: 'byUser',
        KeySchema: [
          { AttributeName: 'userId', KeyType: 'HASH' },
          { AttributeName: 'roomId', KeyType: 'RANGE' },
        ],
      }),
    ]);
  });

  it('keeps document snapshots in a private, encrypted, TLS-only, logged bucket that only the document state routes reach', () => {
    const buckets = resourcesOf(s.template, 'AWS::S3::Bucket');
    const bucketId = s.stack.getLogicalId(s.stack.snapshots.bucket.node.defaultChild as never);
    const bucket = buckets[bucketId]!.Properties;
    expect(bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.LoggingConfiguration).toMatchObject({ LogFilePrefix: 'document-snapshots/' });
    expect(bucket.LifecycleConfiguration.Rules).toEqual([expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' })]);
    const bucketPolicy = Object.values(resourcesOf(s.template, 'AWS::S3::BucketPolicy')).find((p) => p.Properties.Bucket.Ref === bucketId)!;
    expect(bucketPolicy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    // The log bucket lets S3's log delivery write this bucket's logs (and nothing else of it).
    const logDelivery = Object.values(resourcesOf(s.template, 'AWS::S3::BucketPolicy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Sid?: string; Principal?: unknown; Condition?: unknown }>)
      .find((st) => st.Sid === 'DocumentSnapshotsAccessLogs');
    expect(logDelivery).toMatchObject({ Principal: { Service: 'logging.s3.amazonaws.com' }, Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [bucketId, 'Arn'] } } } });

    const policies = resourcesOf(s.template, 'AWS::IAM::Policy');
    for (const r of routes) {
      const fn = resourcesOf(s.template, 'AWS::Lambda::Function')[functionForRoute(s.template, r.routeKey)]!;
      const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
      const s3Statements = Object.values(policies)
        .filter((p) => p.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown; Condition?: unknown }>)
        .filter((st) => [st.Action].flat().some((a) => a.startsWith('s3:')));
      const actions = s3Statements.flatMap((st) => [st.Action].flat()).sort();
      // A reader also gets ListBucket, so that S3 answers a missing snapshot with 404, not 403.
      const expected = new Set((r.snapshots ?? []).map((a) => `s3:${a}`));
      if (expected.has('s3:GetObject')) expected.add('s3:ListBucket');
      expect(actions, r.routeKey).toEqual([...expected].sort());
      expect(fn.Properties.Environment.Variables.SNAPSHOT_BUCKET !== undefined, `${r.routeKey} SNAPSHOT_BUCKET`).toBe((r.snapshots ?? []).length > 0);
      for (const st of s3Statements) {
        const resource = JSON.stringify(st.Resource);
        expect(resource).toContain(bucketId);
        // Objects: the snapshots/ prefix only; the bucket itself (ListBucket) only on this bucket, which holds only snapshots.
        if ([st.Action].flat().includes('s3:ListBucket')) expect([st.Action].flat()).toEqual(['s3:ListBucket']);
        else expect(resource).toContain('/snapshots/*');
      }
    }
    expect(routes.filter((r) => r.snapshots?.length).map((r) => r.routeKey).sort()).toEqual(['GET /documents/{docId}', 'POST /documents/{docId}/updates']);
  });

  it('reaches S3 from the VPC through a gateway endpoint', () => {
    const endpoints = Object.values(resourcesOf(s.template, 'AWS::EC2::VPCEndpoint')).filter((e) => e.Properties.VpcEndpointType === 'Gateway' || !e.Properties.VpcEndpointType);
    const services = endpoints.map((e) => JSON.stringify(e.Properties.ServiceName));
    expect(services.some((n) => n.includes('.s3'))).toBe(true);
    expect(services.some((n) => n.includes('.dynamodb'))).toBe(true);
  });

  it('grants each function write actions only on the tables its route writes', () => {
    const ids = tableLogicalIds(s);
    const policies = resourcesOf(s.template, 'AWS::IAM::Policy');
    for (const r of routes) {
      const fn = resourcesOf(s.template, 'AWS::Lambda::Function')[functionForRoute(s.template, r.routeKey)]!;
      const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
      const statements = Object.values(policies)
        .filter((p) => p.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
      const writeResources = statements
        .filter((st) => [st.Action].flat().some((a) => WRITE_ACTIONS.includes(a) || a === 'dynamodb:*'))
        .map((st) => JSON.stringify(st.Resource));
      for (const table of Object.keys(ids) as TableName[]) {
        const writes = writeResources.some((res) => res.includes(`"${ids[table]}"`));
        expect(writes, `${r.routeKey} may write ${table}: ${r.writes.includes(table)}`).toBe(r.writes.includes(table));
      }
      const reads = statements
        .filter((st) => [st.Action].flat().some((a) => ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'].includes(a)))
        .map((st) => JSON.stringify(st.Resource))
        .join();
      for (const table of r.reads) expect(reads, `${r.routeKey} reads ${table}`).toContain(`"${ids[table]}"`);
      if (r.writes.length === 0) {
        const actions = statements.flatMap((st) => [st.Action].flat());
        expect(actions.filter((a) => a.startsWith('dynamodb:') && !/^dynamodb:(BatchGet|Get|Query|Scan|Describe|ConditionCheck)/.test(a))).toEqual([]);
      }
    }
  });

  it('runs relays on Fargate behind an ALB: ≥2 tasks, /healthz, drain-friendly timeouts', () => {
    const [service] = Object.values(resourcesOf(s.template, 'AWS::ECS::Service'));
    expect(service!.Properties.DesiredCount).toBeGreaterThanOrEqual(2);
    expect(service!.Properties.LaunchType).toBe('FARGATE');
    expect(service!.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets).toHaveLength(2);
    s.template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckPath: '/healthz',
      Port: 8080,
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
    });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'idle_timeout.timeout_seconds', Value: '3600' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
      ]),
    });
    const [task] = Object.values(resourcesOf(s.template, 'AWS::ECS::TaskDefinition'));
    const container = task!.Properties.ContainerDefinitions[0];
    expect(container.StopTimeout).toBeGreaterThanOrEqual(30);
    expect(container.ReadonlyRootFilesystem).toBe(true);
    expect(task!.Properties.RuntimePlatform.CpuArchitecture).toBe('ARM64');
    const env = Object.fromEntries(container.Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]));
    for (const name of ['PORT', 'JWT_JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE', 'MEMBERSHIPS_TABLE', 'DRAIN_TIMEOUT_MS']) {
      expect(env, name).toHaveProperty(name);
    }
    expect(Number(env.DRAIN_TIMEOUT_MS) / 1000).toBeLessThan(30); // drains within the deregistration delay
    // Per-address caps count clients, not the proxies in front: CloudFront + ALB by default, the ALB alone with a certificate.
    expect(env.TRUST_PROXY_HOPS).toBe(mode === 'elasticache' ? '2' : '1');
  });

  it('exposes only /ws through the load balancer (not /metrics or /healthz)', () => {
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      DefaultActions: [Match.objectLike({ Type: 'fixed-response', FixedResponseConfig: Match.objectLike({ StatusCode: '404' }) })],
    });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Conditions: Match.arrayWith([{ Field: 'path-pattern', PathPatternConfig: { Values: ['/ws'] } }]),
      Actions: [Match.objectLike({ Type: 'forward' })],
    });
    s.template.resourceCountIs('AWS::ElasticLoadBalancingV2::ListenerRule', 1);
  });

  it('scales relays on CPU (60%) and on live connections per task', () => {
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 2,
      MaxCapacity: 10,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        TargetValue: 60,
      }),
    });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        CustomizedMetricSpecification: Match.objectLike({
          Namespace: 'Townsquare/Relay',
          MetricName: 'Connections',
          Statistic: 'Average',
        }),
      }),
    });
  });

  it('grants exact DynamoDB actions: no Scan, Describe or streams; batch writes and deletes only where declared (inbox; memberships on DELETE)', () => {
    const ids = tableLogicalIds(s);
    const policies = Object.values(resourcesOf(s.template, 'AWS::IAM::Policy'));
    const all = policies.flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((st: { Action: string | string[] }) => [st.Action].flat()));
    expect(all.filter((a) => a.startsWith('dynamodb:')).sort()).not.toEqual([]);
    for (const a of all) {
      expect(a, 'no wildcard or unused DynamoDB action').not.toMatch(/^dynamodb:(\*|Scan|DescribeTable|GetRecords|GetShardIterator|DescribeStream|ListStreams|ConditionCheckItem)$/);
    }
    for (const r of routes) {
      const fn = resourcesOf(s.template, 'AWS::Lambda::Function')[functionForRoute(s.template, r.routeKey)]!;
      const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
      const statements = policies
        .filter((p) => p.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
      for (const action of ['dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) {
        const on = statements.filter((st) => [st.Action].flat().includes(action)).map((st) => JSON.stringify(st.Resource));
        const tables = (Object.keys(ids) as TableName[]).filter((t) => on.some((res) => res.includes(`"${ids[t]}"`)));
        const declared = (Object.keys(r.dynamo) as TableName[]).filter((t) => r.dynamo[t]!.includes(action.slice('dynamodb:'.length) as never));
        expect(tables.sort(), `${r.routeKey} ${action}`).toEqual(declared.sort());
        // Chat data is deleted only by the DELETE route; the inbox is the only table written in batches.
        expect(tables.filter((t) => t !== 'inbox' && !r.routeKey.startsWith('DELETE ')), `${r.routeKey} ${action}`).toEqual([]);
        if (action === 'dynamodb:BatchWriteItem') expect(tables.filter((t) => t !== 'inbox')).toEqual([]);
      }
    }
    // Index access names the index; nothing grants table/index/*.
    expect(JSON.stringify(policies)).not.toContain('/index/*');
  });

  it('gives the relay task read-only access to memberships and nothing else', () => {
    const [task] = Object.values(resourcesOf(s.template, 'AWS::ECS::TaskDefinition'));
    const taskRoleId = task!.Properties.TaskRoleArn['Fn::GetAtt'][0] as string;
    const statements = Object.values(resourcesOf(s.template, 'AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === taskRoleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string[]; Resource: unknown }>);
    const actions = statements.flatMap((st) => [st.Action].flat());
    // One consistent GetItem per room subscribe (shared/channel-access.ts) and BatchGetItem for the
    // periodic access re-check (socket-relay/access-recheck.ts): nothing else.
    expect(actions).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem']);
    expect(actions.filter((a) => WRITE_ACTIONS.includes(a))).toEqual([]);
    expect(JSON.stringify(statements.map((st) => st.Resource))).not.toMatch(/TablesRooms|TablesMessages|TablesIdempotency/);
  });

  it('sends every alarm to the SNS topic: errors (thrown + logged), API, DynamoDB, relays, Redis', () => {
    const alarms = Object.values(resourcesOf(s.template, 'AWS::CloudWatch::Alarm'));
    const [topicId] = Object.keys(resourcesOf(s.template, 'AWS::SNS::Topic'));
    for (const a of alarms) expect(a.Properties.AlarmActions, a.Properties.AlarmDescription).toEqual([{ Ref: topicId }]);
    // Every metric an alarm reads, whether direct or inside a math expression.
    const metricsOf = (a: (typeof alarms)[number]): string[] =>
      a.Properties.MetricName
        ? [`${a.Properties.Namespace}/${a.Properties.MetricName}`]
        : a.Properties.Metrics.filter((m: any) => m.MetricStat).map((m: any) => `${m.MetricStat.Metric.Namespace}/${m.MetricStat.Metric.MetricName}`);
    const read = alarms.map(metricsOf);
    // Per route: Lambda Errors plus the errors the handler logged at ERROR (500 answers, failed publishes).
    const errorAlarms = read.filter((ms) => ms.includes('AWS/Lambda/Errors'));
    expect(errorAlarms).toHaveLength(routes.length);
    for (const ms of errorAlarms) expect(ms.some((m) => m.startsWith('Townsquare/Functions/LoggedErrors-'))).toBe(true);
    s.template.resourceCountIs('AWS::Logs::MetricFilter', routes.length);
    s.template.hasResourceProperties('AWS::Logs::MetricFilter', { FilterPattern: '{ $.level = "ERROR" }' });
    const flat = read.flat();
    for (const m of [
      'AWS/ApiGateway/5xx',
      'AWS/ApiGateway/Latency',
      'AWS/DynamoDB/WriteThrottleEvents',
      'AWS/ApplicationELB/HTTPCode_ELB_5XX_Count',
      'AWS/ApplicationELB/RejectedConnectionCount',
      'AWS/ECS/CPUUtilization',
      'AWS/ApplicationELB/HealthyHostCount',
      'ECS/ContainerInsights/RunningTaskCount',
      'Townsquare/Relay/RedisOutages',
      'Townsquare/Relay/RedisDown',
    ]) {
      expect(flat, m).toContain(m);
    }
    const redisMetrics = ['AWS/ElastiCache/EngineCPUUtilization', 'AWS/ElastiCache/DatabaseMemoryUsagePercentage', 'AWS/ElastiCache/ReplicationLag'];
    for (const m of redisMetrics) expect(flat.includes(m), m).toBe(mode === 'elasticache');
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    s.template.hasOutput('AlarmTopicArn', {});
  });

  it('passes cdk-nag AwsSolutions with zero unacknowledged findings', () => {
    expect(nagViolations(s.app)).toEqual([]);
  });

  if (mode === 'elasticache') {
    it('creates a TLS + AUTH Valkey 7 cluster-mode replication group across AZs', () => {
      s.template.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 1);
      s.template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        Engine: 'valkey',
        EngineVersion: Match.stringLikeRegexp('^7'),
        CacheParameterGroupName: 'default.valkey7.cluster.on',
        NumNodeGroups: 1,
        ReplicasPerNodeGroup: 1,
        AutomaticFailoverEnabled: true,
        MultiAZEnabled: true,
        TransitEncryptionEnabled: true,
        AtRestEncryptionEnabled: true,
        AuthToken: Match.anyValue(),
        Port: 6379,
      });
      s.template.hasResourceProperties('AWS::SecretsManager::Secret', {
        GenerateSecretString: Match.objectLike({ ExcludePunctuation: true }),
      });
    });

    it('opens 6379 only to the publishing functions and the relays', () => {
      expect(s.stack.pubsub).toBeInstanceOf(RedisCluster);
      const redisSg = s.stack.getLogicalId((s.stack.pubsub as RedisCluster).securityGroup.node.defaultChild as never);
      const fnSg = s.stack.getLogicalId(s.stack.api.securityGroup!.node.defaultChild as never);
      const relaySg = s.stack.getLogicalId(s.stack.relay.securityGroup.node.defaultChild as never);
      const redisGroup = resourcesOf(s.template, 'AWS::EC2::SecurityGroup')[redisSg]!;
      expect(redisGroup.Properties.SecurityGroupIngress ?? []).toEqual([]);
      const rules = Object.values(resourcesOf(s.template, 'AWS::EC2::SecurityGroupIngress')).filter(
        (r) => r.Properties.GroupId['Fn::GetAtt']?.[0] === redisSg,
      );
      expect(rules.map((r) => [r.Properties.FromPort, r.Properties.ToPort, r.Properties.SourceSecurityGroupId['Fn::GetAtt'][0]]).sort()).toEqual(
        [
          [6379, 6379, fnSg],
          [6379, 6379, relaySg],
        ].sort(),
      );
      for (const r of Object.values(resourcesOf(s.template, 'AWS::EC2::SecurityGroupIngress'))) {
        if (r.Properties.FromPort <= 6379 && r.Properties.ToPort >= 6379) expect(r.Properties.CidrIp).toBeUndefined();
      }
    });

    it('puts only publishing functions in the VPC, with the Redis connection settings', () => {
      for (const r of routes) {
        const fn = resourcesOf(s.template, 'AWS::Lambda::Function')[functionForRoute(s.template, r.routeKey)]!;
        const vars = fn.Properties.Environment.Variables;
        if (r.publishes) {
          expect(fn.Properties.VpcConfig?.SubnetIds, r.routeKey).toHaveLength(2);
          expect(vars.REDIS_URL['Fn::Join'][1][0]).toBe('rediss://');
          expect(vars.REDIS_CLUSTER).toBe('true');
          expect(vars.REDIS_AUTH_SECRET_ARN).toEqual({ Ref: expect.stringMatching(/^RedisAuthToken/) });
        } else {
          expect(fn.Properties.VpcConfig, r.routeKey).toBeUndefined();
          expect(vars.REDIS_URL).toBeUndefined();
        }
      }
      s.template.hasResourceProperties('AWS::EC2::VPCEndpoint', { ServiceName: Match.objectLike({}), VpcEndpointType: 'Gateway' });
      s.template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Interface', PrivateDnsEnabled: true });
      s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    });

    it('creates a Cognito user pool and outputs wss://<CloudFront>/ws for the relays', () => {
      s.template.resourceCountIs('AWS::Cognito::UserPool', 1);
      s.template.hasOutput('HttpApiUrl', {});
      s.template.hasOutput('UserPoolClientId', {});
      const ws = s.template.findOutputs('WebSocketUrl').WebSocketUrl!.Value;
      const [distributionId] = Object.keys(resourcesOf(s.template, 'AWS::CloudFront::Distribution'));
      expect(ws).toEqual({ 'Fn::Join': ['', ['wss://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/ws']] });
      expect(s.template.findOutputs('RelayLoadBalancerDns')).toEqual({});
      const [task] = Object.values(resourcesOf(s.template, 'AWS::ECS::TaskDefinition'));
      const container = task!.Properties.ContainerDefinitions[0];
      expect(container.Secrets).toEqual([{ Name: 'REDIS_PASSWORD', ValueFrom: { Ref: expect.stringMatching(/^RedisAuthToken/) } }]);
    });

    it('puts CloudFront in front of the relays: WebSockets, no caching, HTTPS only, WAF', () => {
      const [distribution] = Object.values(resourcesOf(s.template, 'AWS::CloudFront::Distribution'));
      const config = distribution!.Properties.DistributionConfig;
      expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('https-only');
      expect(config.DefaultCacheBehavior.CachePolicyId).toBe(CachePolicy.CACHING_DISABLED.cachePolicyId);
      const policyId = config.DefaultCacheBehavior.OriginRequestPolicyId.Ref as string;
      const policy = resourcesOf(s.template, 'AWS::CloudFront::OriginRequestPolicy')[policyId]!.Properties.OriginRequestPolicyConfig;
      expect(policy.HeadersConfig.Headers).toEqual(expect.arrayContaining(['Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Sec-WebSocket-Protocol', 'Sec-WebSocket-Extensions']));
      const [origin] = config.Origins;
      expect(origin.DomainName).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^RelayLoadBalancer/), 'DNSName'] });
      expect(origin.CustomOriginConfig).toMatchObject({ OriginProtocolPolicy: 'http-only', HTTPPort: 80 });
      // The secret header CloudFront adds is the one the load balancer's /ws rule requires.
      const [header] = origin.OriginCustomHeaders;
      expect(header.HeaderName).toBe(ORIGIN_VERIFY_HEADER);
      expect(JSON.stringify(header.HeaderValue)).toContain('{{resolve:secretsmanager:');
      s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
        Conditions: Match.arrayWith([{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: ORIGIN_VERIFY_HEADER, Values: [header.HeaderValue] } }]),
      });
      // us-east-1: the web ACL is made in-stack, with the rate-based rule on upgrades.
      const [aclId, acl] = Object.entries(resourcesOf(s.template, 'AWS::WAFv2::WebACL'))[0]!;
      expect(config.WebACLId).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
      expect(acl.Properties.Scope).toBe('CLOUDFRONT');
      expect(acl.Properties.Rules[0].Statement.RateBasedStatement).toMatchObject({ Limit: 1000, AggregateKeyType: 'IP' });
    });

    it('lets only CloudFront reach the load balancer', () => {
      const albSg = s.stack.getLogicalId(s.stack.relay.loadBalancer.connections.securityGroups[0]!.node.defaultChild as never);
      const inline = resourcesOf(s.template, 'AWS::EC2::SecurityGroup')[albSg]!.Properties.SecurityGroupIngress ?? [];
      const separate = Object.values(resourcesOf(s.template, 'AWS::EC2::SecurityGroupIngress'))
        .filter((r) => r.Properties.GroupId['Fn::GetAtt']?.[0] === albSg)
        .map((r) => r.Properties);
      const rules = [...inline, ...separate];
      expect(rules).toHaveLength(1);
      expect(rules[0].CidrIp).toBeUndefined();
      expect(rules[0].SourcePrefixListId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/OriginFacingPrefixList/), 'PrefixLists.0.PrefixListId'] });
      s.template.hasResourceProperties('Custom::AWS', {
        Create: Match.stringLikeRegexp('com\\.amazonaws\\.global\\.cloudfront\\.origin-facing'),
      });
    });
  } else {
    it('uses no ElastiCache and keeps functions out of the VPC', () => {
      s.template.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 0);
      s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
      for (const r of routes) {
        const fn = resourcesOf(s.template, 'AWS::Lambda::Function')[functionForRoute(s.template, r.routeKey)]!;
        expect(fn.Properties.VpcConfig, r.routeKey).toBeUndefined();
        const vars = fn.Properties.Environment.Variables;
        expect(vars.UPSTASH_SECRET_ARN).toEqual(r.publishes ? UPSTASH_SECRET : undefined);
        // The REST token is read from the secret at cold start, never put in the function configuration.
        expect(vars.UPSTASH_REDIS_REST_TOKEN).toBeUndefined();
      }
    });

    it('injects the relay REDIS_URL from the secret and uses the external JWT issuer', () => {
      const [task] = Object.values(resourcesOf(s.template, 'AWS::ECS::TaskDefinition'));
      const container = task!.Properties.ContainerDefinitions[0];
      expect(container.Secrets).toEqual([{ Name: 'REDIS_URL', ValueFrom: `${UPSTASH_SECRET}:redisUrl::` }]);
      const env = Object.fromEntries(container.Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]));
      expect(env.REDIS_URL).toBeUndefined();
      expect(env.JWT_ISSUER).toBe('https://example.eu.auth0.com/');
      expect(env.JWT_JWKS_URL).toBe('https://example.eu.auth0.com/.well-known/jwks.json');
      s.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        JwtConfiguration: { Issuer: 'https://example.eu.auth0.com/', Audience: ['https://api.example.com'] },
      });
      s.template.resourceCountIs('AWS::Cognito::UserPool', 0);
    });

    it('serves wss:// on 443 with the certificate and redirects 80', () => {
      s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 443,
        Protocol: 'HTTPS',
        Certificates: [{ CertificateArn: CERT }],
      });
      s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 80,
        DefaultActions: [Match.objectLike({ Type: 'redirect' })],
      });
      expect(s.template.findOutputs('WebSocketUrl').WebSocketUrl!.Value).toBe('wss://relay.example.com/ws');
      s.template.resourceCountIs('AWS::CloudFront::Distribution', 0);
    });
  }
});

describe('relay entry without bundling', () => {
  const outdirs: string[] = [];
  afterAll(() => {
    for (const d of outdirs) rmSync(d, { recursive: true, force: true });
  });
  const quick = (context: Record<string, unknown>, region = 'us-east-1') => {
    const outdir = mkdtempSync(join(tmpdir(), 'townsquare-cdk-'));
    outdirs.push(outdir);
    const { app, stack } = buildApp({ context: { ...context, 'aws:cdk:bundling-stacks': [] }, region, outdir });
    return { template: Template.fromStack(stack), violations: nagViolations(app), app };
  };

  it('dev=true: plain ws:// on the load balancer, no CloudFront', () => {
    const { template, violations } = quick({ dev: 'true' });
    expect(template.findOutputs('WebSocketUrl').WebSocketUrl!.Value['Fn::Join'][1][0]).toBe('ws://');
    template.resourceCountIs('AWS::CloudFront::Distribution', 0);
    expect(violations).toEqual([]);
  });

  it('outside us-east-1: WAF is opt-in (no web ACL in the stack), wafWebAclArn attaches one', () => {
    const plain = quick({}, 'eu-west-1');
    plain.template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    expect(plain.violations).toEqual([]);
    const arn = 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/townsquare/0f1e2d3c-aaaa-bbbb-cccc-111122223333';
    const withAcl = quick({ wafWebAclArn: arn }, 'eu-west-1');
    withAcl.template.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: Match.objectLike({ WebACLId: arn }) });
    expect(withAcl.violations).toEqual([]);
  });

  it('wafStack=true adds the web ACL stack in us-east-1', () => {
    const { app } = quick({ wafStack: 'true' }, 'eu-west-1');
    const waf = app.node.findChild('TownsquareWaf') as EdgeWafStack;
    expect(waf.region).toBe('us-east-1');
    Template.fromStack(waf).hasResourceProperties('AWS::WAFv2::WebACL', { Scope: 'CLOUDFRONT' });
    Template.fromStack(waf).hasOutput('WebAclArn', {});
  });
});

describe('cdk-nag wiring', () => {
  it('synthesizes with AwsSolutionsChecks registered as a validation plugin (fails on any finding)', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'townsquare-cdk-'));
    try {
      // Skip bundling here: the plugin inspects the construct tree, not the code.
      const { app } = buildApp({ region: 'us-east-1', outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      expect(() => app.synth()).not.toThrow();
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('server-to-server notifications (Cognito)', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth({});
  });
  afterAll(() => {
    if (s) rmSync(s.outdir, { recursive: true, force: true });
  });

  it('creates a resource server with the notify scope, a client-credentials-only client for it, and the token endpoint', () => {
    s.template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'townsquare',
      Scopes: [Match.objectLike({ ScopeName: 'notify' })],
    });
    const clients = Object.values(resourcesOf(s.template, 'AWS::Cognito::UserPoolClient'));
    expect(clients).toHaveLength(2);
    const machine = clients.find((c) => c.Properties.GenerateSecret === true)!;
    expect(machine.Properties).toMatchObject({ AllowedOAuthFlows: ['client_credentials'], AllowedOAuthFlowsUserPoolClient: true });
    expect(machine.Properties.AllowedOAuthScopes).toHaveLength(1);
    expect(JSON.stringify(machine.Properties.AllowedOAuthScopes)).toContain('/notify');
    // The end users' client cannot get machine tokens, and has no secret. It has no OAuth flows at all: the pool's
    // domain would otherwise serve CDK's default implicit and code grants (callback https://example.com) for it.
    const user = clients.find((c) => c !== machine)!;
    expect(user.Properties.GenerateSecret).toBe(false);
    expect(user.Properties.AllowedOAuthFlows).toBeUndefined();
    expect(user.Properties.AllowedOAuthFlowsUserPoolClient).not.toBe(true);
    expect(user.Properties.CallbackURLs).toBeUndefined();
    expect(user.Properties.AllowedOAuthScopes).toBeUndefined();
    s.template.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
    // Unique per stack (its UUID), never a word Cognito refuses in a prefix, no account id in the URL.
    const prefix = JSON.stringify(Object.values(resourcesOf(s.template, 'AWS::Cognito::UserPoolDomain'))[0]!.Properties.Domain);
    expect(prefix).toContain('AWS::StackId');
    expect(prefix).not.toContain('AWS::AccountId');
    for (const output of ['NotifyClientId', 'TokenEndpoint', 'NotifyScope']) s.template.hasOutput(output, {});
    s.template.hasOutput('NotifyScope', { Value: 'townsquare/notify' });
  });
});

describe('server-to-server notifications (your own provider)', () => {
  it('requires the scope named by jwtNotifyScope on POST /notifications, with the one audience', () => {
    const s = synth({ redis: 'upstash', upstashSecretArn: UPSTASH_SECRET, jwtIssuer: 'https://example.eu.auth0.com/', jwtAudience: 'https://api.example.com', jwtNotifyScope: 'send:notifications' });
    try {
      const route = Object.values(resourcesOf(s.template, 'AWS::ApiGatewayV2::Route')).find((r) => r.Properties.RouteKey === 'POST /notifications')!;
      expect(route.Properties.AuthorizationScopes).toEqual(['send:notifications']);
      s.template.resourceCountIs('AWS::Cognito::UserPool', 0);
      s.template.hasOutput('NotifyScope', { Value: 'send:notifications' });
      expect(nagViolations(s.app)).toEqual([]);
      // One audience for users and backends: synth warns that end users must not be able to get the scope.
      Annotations.fromStack(s.stack).hasWarning('*', Match.stringLikeRegexp('POST /notifications admits any token of audience https://api.example.com'));
    } finally {
      rmSync(s.outdir, { recursive: true, force: true });
    }
  });

  it('admits only the machine audience on POST /notifications with jwtNotifyAudience, and no machine token elsewhere', () => {
    const s = synth({
      redis: 'upstash',
      upstashSecretArn: UPSTASH_SECRET,
      jwtIssuer: 'https://example.eu.auth0.com/',
      jwtAudience: 'https://api.example.com',
      jwtNotifyAudience: 'https://notify.example.com',
    });
    try {
      const authorizers = Object.values(resourcesOf(s.template, 'AWS::ApiGatewayV2::Authorizer'));
      const audienceOf = (name: string) => authorizers.find((a) => a.Properties.Name === name)!.Properties.JwtConfiguration.Audience;
      expect(audienceOf('NotifyAuthorizer')).toEqual(['https://notify.example.com']);
      expect(audienceOf('JwtAuthorizer')).toEqual(['https://api.example.com']);
      Annotations.fromStack(s.stack).hasNoWarning('*', Match.stringLikeRegexp('POST /notifications admits any token'));
    } finally {
      rmSync(s.outdir, { recursive: true, force: true });
    }
  });
});
