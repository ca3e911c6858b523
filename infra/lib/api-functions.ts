/**
 * The HTTP API: one JWT authorizer in front of every route, one bundled
 * NodejsFunction per route, and per-route least-privilege grants read from
 * functions/routes.ts: exactly the DynamoDB actions each route declares, per
 * table and index (test/infra/route-permissions.test.ts checks them against the
 * calls each handler makes).
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { SecurityGroup, type ISecurityGroup } from 'aws-cdk-lib/aws-ec2';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { basename, join } from 'node:path';
import type { RouteDefinition, TableAction } from '../../functions/routes.js';
import { TABLE_NAMES, tables as tableDefinitions, type TableName } from '../../shared/tables.js';
import {
  ESM_REQUIRE_BANNER,
  LAMBDA_EXTERNAL_MODULES,
  LAMBDA_MAIN_FIELDS,
  LAMBDA_NODE_TARGET,
  publisherDefine,
} from './bundling.js';
import type { DataTables } from './data-tables.js';
import type { DocumentSnapshots } from './document-snapshots.js';
import type { PubSub } from './pubsub.js';

export interface ApiFunctionsProps {
  routes: readonly RouteDefinition[];
  /** Absolute path of the repository root (route entries are relative to it). */
  projectRoot: string;
  data: DataTables;
  /** The document snapshot bucket: routes that declare `snapshots` actions get exactly those, and its name. */
  snapshots?: DocumentSnapshots;
  pubsub: PubSub;
  jwt: { issuer: string; audience: string };
  /**
   * Server-to-server routes (a route's `scope` in functions/routes.ts): their own JWT
   * authorizer admits these audiences and requires this scope (403 without it).
   */
  notify?: { scope: string; audiences: string[] };
  /** @default ['*'] (tokens travel in a header, not cookies, so a wildcard leaks nothing) */
  corsOrigins?: string[];
  /** @default false */
  destroyOnRemoval?: boolean;
  /** Per-user send rate limit, enforced by the send function through Redis (set on every publishing function). @default 5/s, bursts of 20 */
  sendRateLimit?: { ratePerSecond: number; burst: number };
  /** Stage-wide throttle (requests/s and bucket size). @default DEFAULT_API_THROTTLE */
  throttle?: { rateLimit: number; burstLimit: number };
  /** Days stored messages are kept, as MESSAGE_RETENTION_DAYS on every function that writes the messages table. @default undefined (forever) */
  messageRetentionDays?: number;
}

/**
 * Sized from AWS's documented default quotas, so the API sheds load (429) before
 * the services behind it throttle or fail (500), on a fresh account:
 * - burst 1,000: Lambda's default concurrency is 1,000 per account and Region; a
 *   burst that lands entirely on cold starts (~1 s in a VPC) needs one each.
 * - rate 1,000/s: a new on-demand DynamoDB table serves 4,000 write units/s at
 *   first; a short send writes 4 units with a clientMessageId (the channel's
 *   counter, the entry, the claim and its seq) and 2 without, so ≈ 1,000 to
 *   2,000 sends/s (docs/deploy.md). Warm handlers (≈ 50-100 ms) then hold about
 *   100 concurrent executions.
 * Raise both with `-c apiRateLimit=… -c apiBurstLimit=…` after raising those quotas.
 * Per-user limits are the send route's own (functions/domain/send-rate-limit.ts):
 * HTTP APIs have no usage plans.
 */
/** Mirrors DEFAULT_SEND_RATE_LIMIT in functions/domain/send-rate-limit.ts (infra imports no runtime code). */
export const DEFAULT_SEND_RATE = { ratePerSecond: 5, burst: 20 } as const;

export const DEFAULT_API_THROTTLE = { rateLimit: 1000, burstLimit: 1000 } as const;

/**
 * Response headers the API's clients act on, which browsers hide from scripts
 * unless CORS exposes them: `x-townsquare-published` (PUBLISHED_HEADER in
 * protocol/http.ts: a 201 whose live delivery did not go out) and `retry-after`
 * (on a 429). Spelled out here because infra imports no runtime code;
 * test/infra/api-contract.test.ts checks them against the protocol.
 */
export const EXPOSED_RESPONSE_HEADERS = ['x-townsquare-published', 'retry-after'] as const;

const ALL_TABLES = TABLE_NAMES;

const METHODS: Record<string, HttpMethod> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  PATCH: HttpMethod.PATCH,
  DELETE: HttpMethod.DELETE,
};

export class ApiFunctions extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly authorizer: HttpJwtAuthorizer;
  /** The authorizer of the server-to-server routes (present when a route has a `scope`). */
  readonly notifyAuthorizer?: HttpJwtAuthorizer;
  /** Keyed by route key, e.g. `POST /rooms`. */
  readonly functions: ReadonlyMap<string, NodejsFunction>;
  /** The security group of the functions that run in the VPC (ElastiCache mode). */
  readonly securityGroup?: ISecurityGroup;

  constructor(scope: Construct, id: string, props: ApiFunctionsProps) {
    super(scope, id);
    validateRoutes(props.routes);
    const removalPolicy = props.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.api = new HttpApi(this, 'Api', {
      description: 'Townsquare HTTP API',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: props.corsOrigins ?? ['*'],
        allowMethods: [CorsHttpMethod.ANY],
        allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
        // Response headers a browser script may read besides the CORS-safelisted ones.
        exposeHeaders: [...EXPOSED_RESPONSE_HEADERS],
        maxAge: Duration.hours(1),
      },
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      autoDeploy: true,
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs) },
      throttle: props.throttle ?? DEFAULT_API_THROTTLE,
    });
    this.authorizer = new HttpJwtAuthorizer('JwtAuthorizer', props.jwt.issuer, {
      jwtAudience: [props.jwt.audience],
      identitySource: ['$request.header.Authorization'],
    });

    if (props.routes.some((r) => r.scope)) {
      if (!props.notify) throw new Error('ApiFunctions: a route requires a scope (functions/routes.ts), so `notify` (its scope and audiences) is required');
      this.notifyAuthorizer = new HttpJwtAuthorizer('NotifyAuthorizer', props.jwt.issuer, {
        jwtAudience: props.notify.audiences,
        identitySource: ['$request.header.Authorization'],
      });
    }

    const placement = props.pubsub.functionPlacement;
    if (placement && props.routes.some((r) => r.publishes)) {
      const sg = new SecurityGroup(this, 'FunctionsSecurityGroup', {
        vpc: placement.vpc,
        description: 'Townsquare publishing functions (Redis client)',
        // Isolated subnets: the only reachable destinations are Redis and the VPC endpoints.
        allowAllOutbound: true,
      });
      props.pubsub.allowClient(sg, 'Redis from publishing functions');
      this.securityGroup = sg;
    }

    const functions = new Map<string, NodejsFunction>();
    for (const route of props.routes) {
      functions.set(route.routeKey, this.addRoute(route, props, removalPolicy));
    }
    this.functions = functions;
  }

  private addRoute(route: RouteDefinition, props: ApiFunctionsProps, removalPolicy: RemovalPolicy): NodejsFunction {
    const [method, path] = route.routeKey.split(' ') as [string, string];
    const id = pascal(basename(route.entry).replace(/\.[cm]?[jt]s$/, ''));
    const logGroup = new LogGroup(this, `${id}Logs`, { retention: RetentionDays.ONE_MONTH, removalPolicy });
    // Own role instead of AWSLambdaBasicExecutionRole: it may write to its own log group only.
    const role = new Role(this, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Townsquare ${route.routeKey}`,
    });
    logGroup.grantWrite(role);

    const inVpc = route.publishes && props.pubsub.functionPlacement !== undefined;
    if (inVpc) {
      role.addManagedPolicy(ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'Lambda needs the ENI permissions of this AWS-maintained policy to attach a function to the VPC.',
      });
    }

    const fn = new NodejsFunction(this, id, {
      entry: join(props.projectRoot, route.entry),
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: route.memoryMb ?? 512,
      timeout: Duration.seconds(10),
      role,
      logGroup,
      description: `Townsquare ${route.routeKey}`,
      environment: {
        // Every table name (names are not secrets; IAM grants below are what limit access).
        ...props.data.env(ALL_TABLES),
        ...(route.publishes ? props.pubsub.functionEnvironment : {}),
        // The per-user send limit (functions/lib/send-rate.ts reads it; Redis-backed, fail-open).
        ...(route.publishes && {
          SEND_RATE_PER_SECOND: String((props.sendRateLimit ?? DEFAULT_SEND_RATE).ratePerSecond),
          SEND_RATE_BURST: String((props.sendRateLimit ?? DEFAULT_SEND_RATE).burst),
        }),
        // Appends stamp `expiresAt` with it; history reads (they write tombstones) must judge expiry by it too.
        ...(props.messageRetentionDays !== undefined && route.writes.includes('messages') && { MESSAGE_RETENTION_DAYS: String(props.messageRetentionDays) }),
        // Only the routes that touch document snapshots know the bucket (and are granted on it, below).
        ...(route.snapshots?.length && props.snapshots && { SNAPSHOT_BUCKET: props.snapshots.bucket.bucketName }),
        // The scope as tokens carry it; the handler checks it too (functions/handlers/notify.ts).
        ...(route.scope && { NOTIFY_SCOPE: props.notify!.scope }),
        NODE_OPTIONS: '--enable-source-maps',
      },
      ...(inVpc && {
        vpc: props.pubsub.functionPlacement!.vpc,
        vpcSubnets: props.pubsub.functionPlacement!.subnets,
        securityGroups: [this.securityGroup!],
      }),
      bundling: {
        format: OutputFormat.ESM,
        target: LAMBDA_NODE_TARGET,
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.EXTERNAL,
        sourcesContent: false,
        externalModules: LAMBDA_EXTERNAL_MODULES,
        mainFields: LAMBDA_MAIN_FIELDS,
        banner: ESM_REQUIRE_BANNER,
        define: publisherDefine(props.pubsub.publisherDriver),
        forceDockerBundling: false,
        logLevel: LogLevel.ERROR,
      },
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to Node.js 22 (the supported LTS line the design targets); move to the next LTS deliberately, after testing.',
    });

    // Exactly the DynamoDB calls the route declares (functions/routes.ts), per table and index.
    for (const [table, actions] of Object.entries(route.dynamo) as Array<[TableName, readonly TableAction[]]>) {
      props.data.grant(role, table, actions);
    }
    if (route.snapshots?.length) {
      if (!props.snapshots) throw new Error(`ApiFunctions: ${route.routeKey} uses the document snapshot bucket, so \`snapshots\` is required`);
      props.snapshots.grant(role, route.snapshots);
    }
    if (route.publishes) props.pubsub.grantPublish(fn);

    this.api.addRoutes({
      path,
      methods: [METHODS[method]!],
      integration: new HttpLambdaIntegration(`${id}Integration`, fn),
      // A scoped route: its own authorizer, and API Gateway answers 403 to a token without the scope.
      ...(route.scope
        ? { authorizer: this.notifyAuthorizer!, authorizationScopes: [props.notify!.scope] }
        : { authorizer: this.authorizer }),
    });
    return fn;
  }
}

const ITEM_ACTIONS = new Set(['GetItem', 'BatchGetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

/** Every problem in the route table at once. */
export function validateRoutes(routes: readonly RouteDefinition[]): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  const ids = new Set<string>();
  for (const r of routes) {
    const [method, path, extra] = r.routeKey.split(' ');
    if (!method || !METHODS[method] || !path?.startsWith('/') || extra !== undefined) {
      problems.push(`${r.routeKey}: expected "<GET|POST|PUT|PATCH|DELETE> /path"`);
    }
    if (seen.has(r.routeKey)) problems.push(`${r.routeKey}: duplicate route`);
    seen.add(r.routeKey);
    const id = basename(r.entry);
    if (ids.has(id)) problems.push(`${r.routeKey}: entry file name ${id} is used by another route`);
    ids.add(id);
    if (!/\.[cm]?[jt]s$/.test(r.entry)) problems.push(`${r.routeKey}: entry ${r.entry} is not a .ts/.js file`);
    for (const [table, actions] of Object.entries(r.dynamo) as Array<[string, readonly TableAction[]]>) {
      const schema = (tableDefinitions as Record<string, (typeof tableDefinitions)[TableName] | undefined>)[table];
      if (!schema) {
        problems.push(`${r.routeKey}: unknown table ${table}`);
        continue;
      }
      const indexes = new Set((schema.globalIndexes ?? []).map((i) => i.indexName));
      for (const a of actions) {
        const [action, index] = a.split(':');
        if (!ITEM_ACTIONS.has(action!) || (index !== undefined && (action !== 'Query' || !indexes.has(index)))) {
          problems.push(`${r.routeKey}: ${table}: "${a}" is not an item action or Query:<one of ${[...indexes].join(', ') || 'no indexes'}>`);
        }
      }
    }
  }
  if (problems.length) throw new Error(`Invalid routes in functions/routes.ts:\n  - ${problems.join('\n  - ')}`);
}

const pascal = (s: string): string => s.replace(/(^|[-_.])([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
