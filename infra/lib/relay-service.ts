/**
 * The WebSocket relay fleet: Fargate tasks running the relay bundle in the
 * image that socket-relay/Dockerfile describes (context staged by relay-image.ts),
 * behind an internet-facing ALB whose idle timeout lets quiet sockets live for
 * an hour (the relay's own heartbeats keep them well inside it). Clients reach
 * the ALB through CloudFront by default (relay-edge.ts: wss:// without a
 * domain), directly over TLS with a certificate, or plain ws:// in dev stacks.
 *
 * Shutdown order: ECS deregisters a task and waits the deregistration delay
 * (30 s, longer than the relay's 10 s DRAIN_TIMEOUT_MS) before SIGTERM; the
 * container then has stopTimeout (45 s) to send 1012 and exit before SIGKILL.
 *
 * Scaling: CPU at 60 %, and live connections per task. ALB metrics cannot give
 * the latter honestly (RequestCountPerTarget counts WebSocket *upgrades*, i.e.
 * connection churn, not the sockets held open), so each relay reports its own
 * count as a CloudWatch embedded-metric log line; see RELAY_METRICS_* below.
 */
import { Duration, Names, RemovalPolicy, Stack, Stage, Validations } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { Peer, Port, SecurityGroup, type SubnetSelection, type Vpc } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargateService,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import {
  ApplicationLoadBalancer,
  ApplicationProtocol,
  ListenerAction,
  ListenerCertificate,
  ListenerCondition,
  SslPolicy,
  type ApplicationListener,
  type ApplicationTargetGroup,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { tableEnvVar } from '../../shared/tables.js';
import type { DataTables } from './data-tables.js';
import type { PubSub } from './pubsub.js';
import { ORIGIN_VERIFY_HEADER, RelayEdge } from './relay-edge.js';
import { stageRelayImage } from './relay-image.js';

export const RELAY_PORT = 8080;
export const RELAY_METRICS_NAMESPACE = 'Townsquare/Relay';

export interface RelayServiceProps {
  vpc: Vpc;
  subnets: SubnetSelection;
  projectRoot: string;
  data: DataTables;
  pubsub: PubSub;
  jwt: { issuer: string; audience: string; jwksUrl: string };
  logBucket: IBucket;
  /**
   * How clients reach the relays:
   * - `certificate`: the load balancer serves HTTPS (wss://) on 443 with `certificateArn`;
   * - `cloudfront`: CloudFront serves wss://…cloudfront.net and is the only client the
   *   load balancer (plain HTTP on 80) accepts (see relay-edge.ts);
   * - `plain`: the load balancer serves ws:// on 80 to anyone (development only).
   * @default 'certificate' with certificateArn, else 'cloudfront'
   */
  entry?: 'certificate' | 'cloudfront' | 'plain';
  /** ACM certificate for `entry: 'certificate'`. */
  certificateArn?: string;
  /** WAF web ACL (CLOUDFRONT scope) for the distribution, with `entry: 'cloudfront'`. */
  webAclArn?: string;
  /** Host name clients use (must match the certificate). @default the load balancer's DNS name */
  domainName?: string;
  /** @default 2 */
  minTasks?: number;
  /** @default 10 */
  maxTasks?: number;
  /** Target live WebSocket connections per task. @default 5000 */
  connectionsPerTask?: number;
  /** @default false */
  destroyOnRemoval?: boolean;
}

export class RelayService extends Construct {
  readonly cluster: Cluster;
  readonly service: FargateService;
  readonly loadBalancer: ApplicationLoadBalancer;
  readonly listener: ApplicationListener;
  readonly targetGroup: ApplicationTargetGroup;
  readonly securityGroup: SecurityGroup;
  /** `wss://<domain>/ws`, `wss://<distribution>.cloudfront.net/ws`, or (dev) `ws://<alb>/ws`. */
  readonly webSocketUrl: string;
  /** The CloudFront front door (`entry: 'cloudfront'`). */
  readonly edge?: RelayEdge;
  /** Average live connections per task, as reported by the relays. */
  readonly connectionsMetric: Metric;
  /** Redis outages (the broker's delivery side going down, once per outage) summed over all relays. */
  readonly redisOutagesMetric: Metric;
  /** 1 while some relay's Redis pub/sub is down (Maximum over the relays' minute lines). */
  readonly redisDownMetric: Metric;
  private readonly metricsService: string;
  /** Frames written to client sockets by fan-out, all relays (Sum per period). */
  readonly deliveriesMetric: Metric;

  constructor(scope: Construct, id: string, props: RelayServiceProps) {
    super(scope, id);
    const minTasks = props.minTasks ?? 2;
    const maxTasks = props.maxTasks ?? 10;
    const target = props.connectionsPerTask ?? 5000;
    const problems: string[] = [];
    if (minTasks < 2) problems.push('minTasks must be >= 2 (one task per AZ survives a task or AZ loss)');
    if (maxTasks < minTasks) problems.push('maxTasks must be >= minTasks');
    if (!(target > 0)) problems.push('connectionsPerTask must be > 0');
    const entry = props.entry ?? (props.certificateArn ? 'certificate' : 'cloudfront');
    if (props.domainName && !props.certificateArn) problems.push('domainName needs certificateArn');
    if ((entry === 'certificate') !== Boolean(props.certificateArn)) problems.push("certificateArn goes with entry 'certificate', and only with it");
    if (props.webAclArn && entry !== 'cloudfront') problems.push("webAclArn needs entry 'cloudfront'");
    if (problems.length) throw new Error(`RelayService: ${problems.join('; ')}`);
    const removalPolicy = props.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    // Static (not a token) so it can be both a container env var and a metric dimension without a cycle.
    const metricsService = `${Stack.of(this).stackName}-relay`;

    this.cluster = new Cluster(this, 'Cluster', { vpc: props.vpc, containerInsightsV2: ContainerInsights.ENABLED });

    const taskDefinition = new FargateTaskDefinition(this, 'Task', {
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: { cpuArchitecture: CpuArchitecture.ARM64, operatingSystemFamily: OperatingSystemFamily.LINUX },
    });
    const logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH, removalPolicy });
    taskDefinition.addContainer('relay', {
      image: ContainerImage.fromAsset(
        stageRelayImage({
          projectRoot: props.projectRoot,
          dir: join(Stage.of(this)!.outdir, `relay-image-${Names.uniqueId(this)}`),
          build: Stack.of(this).bundlingRequired,
        }),
        { platform: Platform.LINUX_ARM64 },
      ),
      portMappings: [{ containerPort: RELAY_PORT }],
      logging: LogDrivers.awsLogs({ logGroup, streamPrefix: 'relay' }),
      readonlyRootFilesystem: true,
      stopTimeout: Duration.seconds(45),
      environment: {
        PORT: String(RELAY_PORT),
        JWT_JWKS_URL: props.jwt.jwksUrl,
        JWT_ISSUER: props.jwt.issuer,
        JWT_AUDIENCE: props.jwt.audience,
        [tableEnvVar.memberships]: props.data.tables.memberships.tableName,
        DRAIN_TIMEOUT_MS: '10000',
        // Proxies that append to X-Forwarded-For: the ALB, and CloudFront in front of it.
        // Without this the per-address caps would count the ALB's nodes, not clients.
        TRUST_PROXY_HOPS: entry === 'cloudfront' ? '2' : '1',
        LOG_LEVEL: 'info',
        RELAY_METRICS_NAMESPACE,
        RELAY_METRICS_SERVICE: metricsService,
        ...props.pubsub.relayEnvironment,
      },
      secrets: { ...props.pubsub.relaySecrets },
    });
    // The relay reads memberships only: one consistent GetItem per room subscribe, and
    // BatchGetItem for the periodic access re-check of every subscription. Nothing else.
    props.data.grant(taskDefinition.taskRole, 'memberships', ['GetItem', 'BatchGetItem']);
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'These variables are non-secret configuration (URLs, table name, limits); credentials are ECS secrets.',
    });
    Validations.of(taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken (execution role, to pull the relay image) cannot be scoped to a resource.',
    });

    const albSecurityGroup = new SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: props.vpc,
      description: 'Townsquare relay load balancer: public WebSocket entry point',
      allowAllOutbound: false,
    });
    const listenPort = entry === 'certificate' ? 443 : 80;
    if (entry !== 'cloudfront') {
      albSecurityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(listenPort), 'Clients connect from anywhere');
      if (entry === 'certificate') albSecurityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(80), 'Redirect to HTTPS');
      Validations.of(albSecurityGroup).acknowledge({
        id: 'AwsSolutions-EC23',
        reason: 'Public WebSocket endpoint for browsers and mobile apps; clients authenticate with a JWT in the first frame.',
      });
    }

    this.securityGroup = new SecurityGroup(this, 'TaskSecurityGroup', {
      vpc: props.vpc,
      description: 'Townsquare relays: WebSocket traffic from the load balancer only',
      // Outbound: JWKS endpoint, Redis, DynamoDB, ECR and Secrets Manager.
      allowAllOutbound: true,
    });
    this.securityGroup.addIngressRule(albSecurityGroup, Port.tcp(RELAY_PORT), 'From the relay load balancer');
    albSecurityGroup.addEgressRule(this.securityGroup, Port.tcp(RELAY_PORT), 'To the relays');
    props.pubsub.allowClient(this.securityGroup, 'Redis from relays');

    this.loadBalancer = new ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      internetFacing: true,
      securityGroup: albSecurityGroup,
      // Long-lived sockets: the ALB may close a connection only after an hour without a frame.
      idleTimeout: Duration.seconds(3600),
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.logAccessLogs(props.logBucket, 'relay-alb');
    if (entry === 'cloudfront') {
      this.edge = new RelayEdge(this, 'Edge', {
        loadBalancer: this.loadBalancer,
        httpPort: listenPort,
        ...(props.webAclArn && { webAclArn: props.webAclArn }),
      });
      // The prefix list counts as ~55 of the 60 inbound rules a security group may hold:
      // keep this group to this one rule.
      albSecurityGroup.addIngressRule(
        Peer.prefixList(this.edge.originFacingPrefixListId),
        Port.tcp(listenPort),
        'CloudFront origin-facing addresses only',
      );
    }

    this.service = new FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition,
      desiredCount: minTasks,
      vpcSubnets: props.subnets,
      // Public subnets without NAT: the public IP is for outbound calls; inbound is ALB-only (see the task SG).
      assignPublicIp: true,
      securityGroups: [this.securityGroup],
      // Deploys roll in batches of at most half the fleet (2 tasks: one at a time): each
      // replaced task is deregistered, drained (deregistration delay, then SIGTERM → 1012)
      // after its replacement is healthy, so a deploy never disconnects every client at once.
      minHealthyPercent: 100,
      maxHealthyPercent: 150,
      circuitBreaker: { rollback: true },
      healthCheckGracePeriod: Duration.seconds(30),
    });

    this.listener = props.certificateArn
      ? this.loadBalancer.addListener('Https', {
          port: 443,
          protocol: ApplicationProtocol.HTTPS,
          certificates: [ListenerCertificate.fromArn(props.certificateArn)],
          sslPolicy: SslPolicy.RECOMMENDED_TLS,
          open: false,
        })
      : this.loadBalancer.addListener('Http', { port: 80, protocol: ApplicationProtocol.HTTP, open: false });
    if (props.certificateArn) {
      this.loadBalancer.addListener('HttpRedirect', {
        port: 80,
        open: false,
        defaultAction: ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
      });
    }
    // Only the WebSocket endpoint is public: /metrics and /healthz stay between the ALB
    // (its health checks go straight to the targets) and the relays.
    this.listener.addAction('NotFound', {
      action: ListenerAction.fixedResponse(404, {
        contentType: 'application/json',
        messageBody: '{"error":{"code":"not_found","message":"Connect WebSockets to /ws"}}',
      }),
    });
    this.targetGroup = this.listener.addTargets('Relays', {
      priority: 10,
      conditions: [
        ListenerCondition.pathPatterns(['/ws']),
        // Behind CloudFront: only requests that came through our distribution.
        ...(this.edge ? [ListenerCondition.httpHeader(ORIGIN_VERIFY_HEADER, [this.edge.originVerifyValue])] : []),
      ],
      port: RELAY_PORT,
      protocol: ApplicationProtocol.HTTP,
      targets: [this.service],
      healthCheck: {
        path: '/healthz',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
      deregistrationDelay: Duration.seconds(30),
    });

    const scaling = this.service.autoScaleTaskCount({ minCapacity: minTasks, maxCapacity: maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: 60,
      scaleOutCooldown: Duration.minutes(1),
      scaleInCooldown: Duration.minutes(5),
    });
    // The relays' own metrics (socket-relay/emf-metrics.ts), all under the Service dimension.
    const relayMetric = (metricName: string, statistic: string, minutes: number) =>
      new Metric({ namespace: RELAY_METRICS_NAMESPACE, metricName, dimensionsMap: { Service: metricsService }, statistic, period: Duration.minutes(minutes) });
    this.connectionsMetric = relayMetric('Connections', 'Average', 1);
    this.redisOutagesMetric = relayMetric('RedisOutages', 'Sum', 5);
    this.redisDownMetric = relayMetric('RedisDown', 'Maximum', 1);
    this.deliveriesMetric = relayMetric('Deliveries', 'Sum', 1);
    scaling.scaleToTrackCustomMetric('Connections', {
      metric: this.connectionsMetric,
      targetValue: target,
      scaleOutCooldown: Duration.minutes(1),
      // Scaling in closes sockets (clients reconnect elsewhere): do it slowly.
      scaleInCooldown: Duration.minutes(10),
    });

    this.metricsService = metricsService;
    this.webSocketUrl = this.edge
      ? `wss://${this.edge.distribution.distributionDomainName}/ws`
      : `${entry === 'certificate' ? 'wss' : 'ws'}://${props.domainName ?? this.loadBalancer.loadBalancerDnsName}/ws`;
  }

  /** Envelopes the relays received from Redis for `channelKind` (`room`, `user`, `document`), summed over relays. */
  envelopesMetric(channelKind: string): Metric {
    return new Metric({
      namespace: RELAY_METRICS_NAMESPACE,
      metricName: 'Envelopes',
      dimensionsMap: { Service: this.metricsService, ChannelKind: channelKind },
      statistic: 'Sum',
      period: Duration.minutes(1),
      label: channelKind,
    });
  }
}
