/**
 * TLS for the relays without a domain: a CloudFront distribution in front of
 * the relays' load balancer, so clients get `wss://<id>.cloudfront.net/ws`.
 *
 * - CloudFront carries WebSockets as they are: caching off, the viewer's
 *   `Sec-WebSocket-*` and `Origin` headers forwarded, HTTPS only for viewers.
 * - The load balancer accepts CloudFront only: its security group admits the
 *   AWS-managed origin-facing prefix list (looked up at deploy time, since its
 *   id differs per region and synthesis makes no AWS calls), and its `/ws`
 *   rule forwards only requests carrying a secret header that CloudFront adds
 *   (the prefix list alone would admit any CloudFront distribution, anyone's).
 * - CloudFront → load balancer is plain HTTP (the load balancer has no
 *   certificate; none can be issued for *.elb.amazonaws.com). docs/deploy.md
 *   says what that leg does and does not protect.
 */
import { Annotations, Duration, Stack, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestHeaderBehavior,
  OriginRequestPolicy,
  OriginRequestQueryStringBehavior,
  OriginRequestCookieBehavior,
  PriceClass,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { LoadBalancerV2Origin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { IApplicationLoadBalancer } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** Id of the synth-time warning given when the distribution has no WAF web ACL. */
export const NO_WAF_WARNING_ID = 'townsquare:relay-edge-no-waf';
/** The header CloudFront adds and the load balancer's `/ws` rule requires. */
export const ORIGIN_VERIFY_HEADER = 'X-Townsquare-Origin-Verify';
/** Construct id of the singleton function behind every AwsCustomResource (fixed by aws-cdk-lib). */
const AWS_CUSTOM_RESOURCE_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';
export const CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';

/** Request headers a WebSocket upgrade needs at the relay (CloudFront handles Upgrade/Connection itself). */
export const WEBSOCKET_VIEWER_HEADERS = [
  'Sec-WebSocket-Key',
  'Sec-WebSocket-Version',
  'Sec-WebSocket-Protocol',
  'Sec-WebSocket-Extensions',
  'Origin',
];

export interface RelayEdgeProps {
  loadBalancer: IApplicationLoadBalancer;
  /** Port of the load balancer's plain-HTTP listener. */
  httpPort: number;
  /** ARN of a WAF web ACL with CLOUDFRONT scope (created in us-east-1). @default none */
  webAclArn?: string;
}

export class RelayEdge extends Construct {
  readonly distribution: Distribution;
  /** The secret value CloudFront sends in `ORIGIN_VERIFY_HEADER` (a CloudFormation dynamic reference). */
  readonly originVerifyValue: string;
  readonly originVerifySecret: Secret;
  /** Id of the CloudFront origin-facing managed prefix list in this region (resolved at deploy time). */
  readonly originFacingPrefixListId: string;

  constructor(scope: Construct, id: string, props: RelayEdgeProps) {
    super(scope, id);
    this.originVerifySecret = new Secret(this, 'OriginVerify', {
      description: `Townsquare: value of ${ORIGIN_VERIFY_HEADER}, which CloudFront adds and the relay load balancer requires`,
      // ALB header conditions treat * and ? as wildcards: alphanumerics only.
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(this.originVerifySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The origin-verify header value lives in the CloudFront origin and the load balancer rule, which generic rotation cannot update in lockstep; docs/deploy.md gives the two-step manual rotation.',
    });
    this.originVerifyValue = this.originVerifySecret.secretValue.unsafeUnwrap();

    const lookup = new AwsCustomResource(this, 'OriginFacingPrefixList', {
      onUpdate: {
        service: 'EC2',
        action: 'describeManagedPrefixLists',
        parameters: { Filters: [{ Name: 'prefix-list-name', Values: [CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST] }] },
        physicalResourceId: PhysicalResourceId.of(CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST),
        outputPaths: ['PrefixLists.0.PrefixListId'],
      },
      policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
    });
    Validations.of(lookup).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ec2:DescribeManagedPrefixLists supports no resource-level permissions; the role can only describe prefix lists.',
    });
    // The provider function CDK shares between all AwsCustomResources of the stack.
    const provider = Stack.of(this).node.tryFindChild(AWS_CUSTOM_RESOURCE_PROVIDER_ID);
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: "CDK's deploy-time lookup function (AwsCustomResource) writes its own logs through this AWS-maintained policy; it runs only during deployments.",
      });
    }
    this.originFacingPrefixListId = lookup.getResponseField('PrefixLists.0.PrefixListId');

    const originRequestPolicy = new OriginRequestPolicy(this, 'WebSocketHeaders', {
      comment: 'Townsquare relays: the WebSocket upgrade headers, nothing cached',
      headerBehavior: OriginRequestHeaderBehavior.allowList(...WEBSOCKET_VIEWER_HEADERS),
      queryStringBehavior: OriginRequestQueryStringBehavior.none(),
      cookieBehavior: OriginRequestCookieBehavior.none(),
    });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: `${Stack.of(this).stackName} relays (WebSocket)`,
      defaultBehavior: {
        origin: new LoadBalancerV2Origin(props.loadBalancer, {
          protocolPolicy: OriginProtocolPolicy.HTTP_ONLY,
          httpPort: props.httpPort,
          customHeaders: { [ORIGIN_VERIFY_HEADER]: this.originVerifyValue },
          // Longest without a quota increase; frames and 30 s heartbeats keep sockets inside it.
          readTimeout: Duration.seconds(60),
        }),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_DISABLED,
        originRequestPolicy,
        compress: false,
      },
      httpVersion: HttpVersion.HTTP2,
      priceClass: PriceClass.PRICE_CLASS_ALL,
      ...(props.webAclArn && { webAclId: props.webAclArn }),
    });
    if (!props.webAclArn) {
      Annotations.of(this).addWarningV2(
        NO_WAF_WARNING_ID,
        'The relays\' CloudFront distribution has no WAF web ACL: nothing rate-limits WebSocket upgrades per client address at the edge ' +
          '(the relays still cap connections per address). A CloudFront web ACL must live in us-east-1: deploy it with -c wafStack=true, ' +
          'then pass its WebAclArn output as -c wafWebAclArn=… (docs/deploy.md, "WAF at the edge").',
      );
    }
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason: 'Chat clients connect from anywhere; restrict countries in the distribution if your users are regional.',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          'Every WebSocket upgrade that passes CloudFront is in the load balancer access logs, but with the address of the CloudFront edge that forwarded it: no log keeps the viewer address (the relay reads it from X-Forwarded-For, TRUST_PROXY_HOPS=2, only to cap connections per address; WAF samples, when attached, keep it 3 hours). Standard CloudFront logs would need an ACL-enabled bucket; docs/deploy.md says how to turn them on.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'Without a custom domain the distribution uses the default *.cloudfront.net certificate, whose minimum TLS version cannot be set; pass certificateArn/relayDomain for a TLS 1.2+ policy.',
      },
      {
        id: 'AwsSolutions-CFR5',
        reason:
          'The origin is the relay load balancer over HTTP (no certificate can name *.elb.amazonaws.com); it admits only CloudFront with the secret header. docs/deploy.md documents this leg.',
      },
      ...(props.webAclArn
        ? []
        : [
            {
              id: 'AwsSolutions-CFR2',
              reason:
                'A CloudFront web ACL must live in us-east-1: it is created with the stack there, and is opt-in elsewhere (-c wafWebAclArn=..., see docs/deploy.md).',
            },
          ]),
    );
  }
}
