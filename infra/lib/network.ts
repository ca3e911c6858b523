/**
 * The VPC, built without NAT gateways (the largest fixed cost of a small VPC):
 *
 * - public subnets hold the load balancer and the relay tasks. Relays get a
 *   public IP for outbound calls (JWKS, ECR, Secrets Manager, Upstash) but
 *   accept inbound traffic only from the load balancer's security group.
 * - isolated subnets (ElastiCache mode only) hold Redis and the Lambda
 *   functions that publish to it. They reach DynamoDB through a gateway
 *   endpoint and Secrets Manager (the Redis auth token) through an interface
 *   endpoint; nothing else leaves the VPC.
 *
 * An interface endpoint with private DNS answers for the service's public
 * name in the *whole* VPC, not only in the subnets it sits in: the relays in
 * the public subnets (and the ECS agent fetching their secrets) reach Secrets
 * Manager through it too, public IP or not. So every compute in the VPC must
 * be admitted to every interface endpoint (`allowEndpointsFrom`);
 * test/infra/reachability.test.ts checks this on the synthesized template.
 */
import {
  FlowLogDestination,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  InterfaceVpcEndpoint,
  IpAddresses,
  SubnetType,
  Vpc,
  Port,
  type ISecurityGroup,
  type SubnetConfiguration,
  type SubnetSelection,
} from 'aws-cdk-lib/aws-ec2';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface NetworkProps {
  /** Add isolated subnets and the endpoints private workloads need. @default false */
  isolatedSubnets?: boolean;
  /** Where VPC flow logs go. */
  logBucket: IBucket;
}

export class Network extends Construct {
  readonly vpc: Vpc;
  readonly publicSubnets: SubnetSelection = { subnetType: SubnetType.PUBLIC };
  /** Undefined unless `isolatedSubnets` was requested. */
  readonly isolatedSubnets?: SubnetSelection;
  /** Secrets Manager endpoint in the isolated subnets (with `isolatedSubnets`). */
  readonly secretsManagerEndpoint?: InterfaceVpcEndpoint;
  /** Every interface endpoint of the VPC (each one captures its service's DNS name VPC-wide). */
  readonly interfaceEndpoints: InterfaceVpcEndpoint[] = [];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const subnetConfiguration: SubnetConfiguration[] = [{ name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 }];
    if (props.isolatedSubnets) {
      subnetConfiguration.push({ name: 'isolated', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 });
    }
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr('10.40.0.0/16'),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration,
      flowLogs: { s3: { destination: FlowLogDestination.toS3(props.logBucket, 'vpc-flow-logs/') } },
    });
    // Free, and keeps table traffic of relays and functions on the AWS network.
    this.vpc.addGatewayEndpoint('DynamoDb', { service: GatewayVpcEndpointAwsService.DYNAMODB });
    // Free too: the document update function (in the isolated subnets with ElastiCache) reaches the snapshot bucket through it.
    this.vpc.addGatewayEndpoint('S3', { service: GatewayVpcEndpointAwsService.S3 });

    if (props.isolatedSubnets) {
      this.isolatedSubnets = { subnetType: SubnetType.PRIVATE_ISOLATED };
      // Functions read the Redis auth token at cold start; without NAT this is their only way to Secrets Manager.
      // Closed by default: clients are let in one security group at a time (allowEndpointsFrom).
      this.secretsManagerEndpoint = this.vpc.addInterfaceEndpoint('SecretsManager', {
        service: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        subnets: this.isolatedSubnets,
        privateDnsEnabled: true,
        open: false,
      });
      this.interfaceEndpoints.push(this.secretsManagerEndpoint);
    }
  }

  /**
   * Lets a compute's security group reach every interface endpoint (HTTPS).
   * Call it for every security group in the VPC: private DNS sends the
   * service's traffic to the endpoint wherever in the VPC it comes from.
   */
  allowEndpointsFrom(securityGroup: ISecurityGroup, description: string): void {
    for (const endpoint of this.interfaceEndpoints) endpoint.connections.allowFrom(securityGroup, Port.tcp(443), description);
  }
}
