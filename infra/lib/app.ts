/**
 * Builds the CDK app; the entry point (infra/bin/app.ts) and the synthesis
 * tests share it, so tests exercise exactly what `cdk synth` does.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { fileURLToPath } from 'node:url';
import type { RouteDefinition } from '../../functions/routes.js';
import { ConfigError, readConfig } from './config.js';
import { EdgeWafStack } from './edge-waf.js';
import { TownsquareStack } from './townsquare-stack.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Feature flags, set in code rather than cdk.json so that `cdk synth` and the
 * synthesis tests build the same templates. CLI context (-c) still wins.
 */
const FEATURE_FLAGS: Record<string, unknown> = {
  '@aws-cdk/core:checkSecretUsage': true,
  '@aws-cdk/core:target-partitions': ['aws', 'aws-cn'],
  '@aws-cdk/core:enablePartitionLiterals': true,
  '@aws-cdk/core:validateSnapshotRemovalPolicy': true,
  '@aws-cdk/aws-iam:minimizePolicies': true,
  '@aws-cdk/aws-ec2:restrictDefaultSecurityGroup': true,
  '@aws-cdk/aws-ecs:arnFormatIncludesClusterName': true,
  '@aws-cdk/aws-ecs:disableExplicitDeploymentControllerForCircuitBreaker': true,
  '@aws-cdk/aws-ecs:removeDefaultDeploymentAlarm': true,
};

export interface BuildAppOptions {
  /** CDK context, as `-c key=value` would give it (merged over cdk.json context by the CLI). */
  context?: Record<string, unknown>;
  /** Register cdk-nag's AWS Solutions pack as a synthesis validation plugin. @default true */
  nag?: boolean;
  /** Deployment region. @default CDK_DEFAULT_REGION, AWS_REGION or context `region` */
  region?: string;
  /** @default 'Townsquare' or context `stackName` */
  stackName?: string;
  outdir?: string;
  routes?: readonly RouteDefinition[];
}

export function buildApp(options: BuildAppOptions = {}): { app: App; stack: TownsquareStack } {
  const app = new App({
    context: { ...FEATURE_FLAGS, ...options.context },
    ...(options.outdir && { outdir: options.outdir }),
  });
  const config = readConfig(app.node);
  const ctx = (k: string): string | undefined => {
    const v: unknown = app.node.tryGetContext(k);
    return typeof v === 'string' && v ? v : undefined;
  };
  // The region must be concrete: ALB access logging needs it. The account stays
  // a token, so availability zones resolve in CloudFormation and synth needs no AWS calls.
  const region = options.region ?? process.env.CDK_DEFAULT_REGION ?? process.env.AWS_REGION ?? ctx('region');
  if (!region) {
    throw new ConfigError(['region: unknown; set AWS_REGION (or AWS_DEFAULT_REGION via a profile) or pass -c region=<region>']);
  }
  const stack = new TownsquareStack(app, options.stackName ?? ctx('stackName') ?? 'Townsquare', {
    env: { region },
    description: 'Townsquare real-time backend: HTTP API, Lambda, DynamoDB, Redis pub/sub, WebSocket relays',
    config,
    projectRoot: PROJECT_ROOT,
    ...(options.routes && { routes: options.routes }),
  });
  // Outside us-east-1 the relays' WAF is opt-in: `-c wafStack=true` adds the web ACL's own
  // us-east-1 stack (deploy it, then pass its WebAclArn output as -c wafWebAclArn=…).
  if (app.node.tryGetContext('wafStack') === true || app.node.tryGetContext('wafStack') === 'true') {
    new EdgeWafStack(app, `${stack.stackName}Waf`, {
      description: 'Townsquare: WAF web ACL for the relays\' CloudFront distribution (CLOUDFRONT scope lives in us-east-1)',
      upgradesPerFiveMinutes: config.wafUpgradeLimit,
    });
  }
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
