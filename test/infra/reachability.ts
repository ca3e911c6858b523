/**
 * Network reachability, read from a synthesized CloudFormation template the
 * way AWS will run it. For every compute (each Lambda function, each ECS task
 * and the ECS agent acting for it with the execution role) it lists what the
 * compute calls, then looks for a network path to each:
 *
 * - outside a VPC (a Lambda function without VpcConfig): the Lambda service's
 *   own network reaches every public endpoint;
 * - an interface endpoint with private DNS in the compute's VPC: the service's
 *   public name resolves to the endpoint *for the whole VPC*, so this is the
 *   only path, and the endpoint's security group must admit the compute on 443
 *   (a public IP does not help: this is the class of bug issue 12 found);
 * - a gateway endpoint (DynamoDB, S3) on the route tables of all its subnets;
 * - otherwise the internet: every subnet routes 0.0.0.0/0 to a NAT gateway, or
 *   to an internet gateway with a public IP on the compute;
 * - ElastiCache: the replication group's security group admits the compute on
 *   its port.
 * Every path also needs the compute's own security group to let it out.
 *
 * Pure functions over template JSON: no AWS calls, no CDK imports.
 */

type Json = any; // CloudFormation template fragments

export type Target =
  | { kind: 'aws'; service: string; why: string }
  | { kind: 'redis'; replicationGroup: string; port: number; why: string }
  | { kind: 'internet'; host: string; port: number; why: string };

export interface Compute {
  /** Logical id, with `(execution)` for the ECS agent acting for a task. */
  name: string;
  /** Undefined: not in a VPC. */
  vpc?: { subnets: string[]; securityGroups: string[]; publicIp: boolean };
  calls: Target[];
}

export interface PathResult {
  compute: string;
  target: string;
  ok: boolean;
  path: string;
}

const refId = (v: Json): string | undefined => (v && typeof v === 'object' ? (v.Ref ?? v['Fn::GetAtt']?.[0]) : undefined);

/** Every string literal and referenced logical id inside a value (to find hosts and table ARNs). */
function flatten(v: Json): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(flatten).join('');
  if (v && typeof v === 'object') {
    if (v.Ref) return `<${v.Ref}>`;
    if (v['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
    if (v['Fn::Sub']) return flatten(v['Fn::Sub']);
    if (v['Fn::Join']) return v['Fn::Join'][1].map(flatten).join(v['Fn::Join'][0]);
    return Object.values(v).map(flatten).join('');
  }
  return String(v ?? '');
}

export class TemplateNetwork {
  private readonly r: Record<string, { Type: string; Properties?: Json }>;

  constructor(template: Json) {
    this.r = template.Resources;
  }

  private ofType(type: string): Array<[string, Json]> {
    return Object.entries(this.r)
      .filter(([, v]) => v.Type === type)
      .map(([k, v]) => [k, v.Properties ?? {}]);
  }

  /** IAM statements of every policy attached to a role. */
  private statements(roleId: string | undefined): Array<{ Action: string[]; Resource: Json }> {
    if (!roleId) return [];
    const inline = (this.r[roleId]?.Properties?.Policies ?? []).flatMap((p: Json) => p.PolicyDocument.Statement);
    const attached = this.ofType('AWS::IAM::Policy')
      .filter(([, p]) => (p.Roles ?? []).some((x: Json) => refId(x) === roleId))
      .flatMap(([, p]) => p.PolicyDocument.Statement);
    return [...inline, ...attached].map((s: Json) => ({ Action: [s.Action].flat(), Resource: s.Resource }));
  }

  /** AWS services a role's policies let its holder call (by action prefix), minus `ignore`. */
  private servicesOf(roleId: string | undefined, why: string, ignore: string[] = []): Target[] {
    const services = new Set(
      this.statements(roleId)
        .flatMap((s) => s.Action)
        .map((a) => a.split(':')[0]!)
        .filter((s) => !ignore.includes(s)),
    );
    return [...services].sort().map((service) => ({ kind: 'aws' as const, service, why }));
  }

  /** What a value pointing at Redis or an HTTPS URL means as a network target. */
  private targetOfUrl(value: Json, why: string): Target {
    const text = flatten(value);
    const rg = /<([A-Za-z0-9]+)\.ConfigurationEndPoint\.Address>|<([A-Za-z0-9]+)\.PrimaryEndPoint\.Address>/.exec(text);
    if (rg) {
      const id = (rg[1] ?? rg[2])!;
      return { kind: 'redis', replicationGroup: id, port: Number(this.r[id]?.Properties?.Port ?? 6379), why };
    }
    const m = /^(\w+):\/\/(?:[^@/]*@)?([^/:]+)(?::(\d+))?/.exec(text);
    const host = m?.[2] ?? text;
    const port = m?.[3] ? Number(m[3]) : m?.[1] === 'http' ? 80 : m?.[1]?.startsWith('redis') ? 6379 : 443;
    // An AWS API host is an AWS service (an endpoint with private DNS would capture it).
    const aws = /^([a-z0-9-]+)\.[a-z0-9-]+\.amazonaws\.com$/.exec(host);
    if (aws) return { kind: 'aws', service: aws[1]!, why };
    return { kind: 'internet', host, port, why };
  }

  computes(): Compute[] {
    const out: Compute[] = [];
    for (const [id, fn] of this.ofType('AWS::Lambda::Function')) {
      const vars: Record<string, Json> = fn.Environment?.Variables ?? {};
      const calls: Target[] = [
        // Lambda ships logs through its own service, not the function's network interface.
        ...this.servicesOf(refId(fn.Role), 'IAM policy', ['logs', 'ec2', 'xray']),
      ];
      if (vars.REDIS_URL) calls.push(this.targetOfUrl(vars.REDIS_URL, 'REDIS_URL'));
      if (vars.UPSTASH_SECRET_ARN) calls.push({ kind: 'internet', host: 'Upstash REST (from the secret)', port: 443, why: 'UPSTASH_SECRET_ARN' });
      const vpc = fn.VpcConfig
        ? { subnets: fn.VpcConfig.SubnetIds.map(refId), securityGroups: fn.VpcConfig.SecurityGroupIds.map(refId), publicIp: false }
        : undefined;
      out.push({ name: id, ...(vpc && { vpc }), calls });
    }
    for (const [id, svc] of this.ofType('AWS::ECS::Service')) {
      const taskId = refId(svc.TaskDefinition)!;
      const task = this.r[taskId]!.Properties;
      const net = svc.NetworkConfiguration?.AwsvpcConfiguration;
      const vpc = net && {
        subnets: net.Subnets.map(refId),
        securityGroups: (net.SecurityGroups ?? []).map(refId),
        publicIp: net.AssignPublicIp === 'ENABLED',
      };
      const taskCalls: Target[] = this.servicesOf(refId(task.TaskRoleArn), 'task role policy');
      // Fargate (platform 1.4+) pulls the image, fetches secrets and ships awslogs through the task's own ENI.
      const agentCalls: Target[] = [];
      for (const c of task.ContainerDefinitions) {
        const env: Record<string, Json> = Object.fromEntries((c.Environment ?? []).map((e: Json) => [e.Name, e.Value]));
        const secrets: Record<string, Json> = Object.fromEntries((c.Secrets ?? []).map((e: Json) => [e.Name, e.ValueFrom]));
        if (env.REDIS_URL) taskCalls.push(this.targetOfUrl(env.REDIS_URL, `${c.Name} REDIS_URL`));
        else if (secrets.REDIS_URL) taskCalls.push({ kind: 'internet', host: 'Redis URL (from the secret)', port: 6379, why: `${c.Name} REDIS_URL secret` });
        if (env.JWT_JWKS_URL) taskCalls.push(this.targetOfUrl(env.JWT_JWKS_URL, `${c.Name} JWT_JWKS_URL`));
        if (/\.dkr\.ecr\./.test(flatten(c.Image))) {
          for (const service of ['ecr.api', 'ecr.dkr', 's3']) agentCalls.push({ kind: 'aws', service, why: `${c.Name} image (ECR)` });
        }
        if (c.LogConfiguration?.LogDriver === 'awslogs') agentCalls.push({ kind: 'aws', service: 'logs', why: `${c.Name} awslogs driver` });
        for (const [name, from] of Object.entries(secrets)) {
          const f = flatten(from);
          const service = f.includes(':ssm:') ? 'ssm' : 'secretsmanager';
          agentCalls.push({ kind: 'aws', service, why: `${c.Name} secret ${name}` });
        }
      }
      out.push({ name: id, ...(vpc && { vpc }), calls: dedupe(taskCalls) });
      out.push({ name: `${id} (execution)`, ...(vpc && { vpc }), calls: dedupe(agentCalls) });
    }
    return out;
  }

  // --- paths ---------------------------------------------------------------

  private subnetCidr(subnet: string): string {
    return this.r[subnet]!.Properties!.CidrBlock;
  }

  private routeTableOf(subnet: string): string | undefined {
    const assoc = this.ofType('AWS::EC2::SubnetRouteTableAssociation').find(([, a]) => refId(a.SubnetId) === subnet);
    return assoc && refId(assoc[1].RouteTableId);
  }

  private defaultRoute(routeTable: string | undefined): { igw?: string; nat?: string } {
    const route = this.ofType('AWS::EC2::Route').find(
      ([, rt]) => refId(rt.RouteTableId) === routeTable && rt.DestinationCidrBlock === '0.0.0.0/0',
    );
    if (!route) return {};
    return { ...(route[1].GatewayId && { igw: refId(route[1].GatewayId) }), ...(route[1].NatGatewayId && { nat: refId(route[1].NatGatewayId) }) };
  }

  private rules(sg: string, direction: 'Ingress' | 'Egress'): Json[] {
    const inline = this.r[sg]?.Properties?.[`SecurityGroup${direction}`] ?? [];
    const separate = this.ofType(`AWS::EC2::SecurityGroup${direction}`)
      .filter(([, rule]) => refId(rule.GroupId) === sg)
      .map(([, rule]) => rule);
    return [...inline, ...separate];
  }

  private portMatches(rule: Json, port: number): boolean {
    if (String(rule.IpProtocol) === '-1') return true;
    return rule.IpProtocol === 'tcp' && rule.FromPort <= port && port <= rule.ToPort;
  }

  /** Does `sg` admit traffic from any of `sources` (by group) or from every subnet CIDR given? */
  private admits(sg: string, sources: string[], subnetCidrs: string[], port: number): boolean {
    return this.rules(sg, 'Ingress').some(
      (rule) =>
        this.portMatches(rule, port) &&
        ((rule.SourceSecurityGroupId && sources.includes(refId(rule.SourceSecurityGroupId)!)) ||
          (typeof rule.CidrIp === 'string' && subnetCidrs.every((c) => cidrContains(rule.CidrIp, c)))),
    );
  }

  /** Does any of `groups` let traffic out to `dest` (a group, a CIDR, or the internet)? */
  private letsOut(groups: string[], port: number, dest: { group?: string[]; cidrs?: string[] }): boolean {
    return groups.some((sg) =>
      this.rules(sg, 'Egress').some(
        (rule) =>
          this.portMatches(rule, port) &&
          ((rule.DestinationSecurityGroupId && dest.group?.includes(refId(rule.DestinationSecurityGroupId)!)) ||
            (typeof rule.CidrIp === 'string' && (dest.cidrs ?? ['0.0.0.0/0']).every((c) => cidrContains(rule.CidrIp, c)))),
      ),
    );
  }

  private serviceOfEndpoint(ep: Json): string {
    // "com.amazonaws.<region>.<service>" (a Join with a region Ref, or a literal).
    return flatten(ep.ServiceName).replace(/^.*?com\.amazonaws\.(<AWS::Region>|[a-z0-9-]+)\./, '');
  }

  private viaInternet(c: Compute, port: number): PathResult['path'] | undefined {
    const v = c.vpc!;
    const routes = v.subnets.map((s) => this.defaultRoute(this.routeTableOf(s)));
    const everyNat = routes.every((r) => r.nat);
    const everyIgw = routes.every((r) => r.igw);
    if (!everyNat && !(everyIgw && v.publicIp)) return undefined;
    if (!this.letsOut(v.securityGroups, port, {})) return undefined;
    return everyNat ? 'NAT gateway' : 'public IP + internet gateway';
  }

  check(c: Compute, t: Target): PathResult {
    const label = t.kind === 'aws' ? t.service : t.kind === 'redis' ? `redis ${t.replicationGroup}:${t.port}` : `${t.host}:${t.port}`;
    const result = (ok: boolean, path: string): PathResult => ({ compute: c.name, target: label, ok, path });
    if (!c.vpc) return result(true, 'outside any VPC (Lambda service network)');
    const cidrs = c.vpc.subnets.map((s) => this.subnetCidr(s));

    if (t.kind === 'redis') {
      const rg = this.r[t.replicationGroup]?.Properties;
      if (!rg) return result(false, 'replication group not in template');
      const groups: string[] = (rg.SecurityGroupIds ?? []).map(refId);
      const inbound = groups.some((g) => this.admits(g, c.vpc!.securityGroups, cidrs, t.port));
      const cacheSubnets: Json[] = this.r[refId(rg.CacheSubnetGroupName)!]?.Properties?.SubnetIds ?? [];
      const outbound = this.letsOut(c.vpc.securityGroups, t.port, {
        group: groups,
        cidrs: cacheSubnets.map((s) => this.subnetCidr(refId(s)!)),
      });
      return result(inbound && outbound, inbound ? (outbound ? 'in-VPC, cache security group admits it' : 'compute security group blocks egress') : 'cache security group does not admit it');
    }
    if (t.kind === 'aws') {
      const endpoints = this.ofType('AWS::EC2::VPCEndpoint').filter(([, ep]) => this.serviceOfEndpoint(ep) === t.service);
      const privateDns = endpoints.find(([, ep]) => ep.VpcEndpointType === 'Interface' && ep.PrivateDnsEnabled);
      if (privateDns) {
        const [epId, ep] = privateDns;
        const groups: string[] = (ep.SecurityGroupIds ?? []).map(refId);
        const epCidrs = (ep.SubnetIds ?? []).map((s: Json) => this.subnetCidr(refId(s)!));
        const inbound = groups.some((g) => this.admits(g, c.vpc!.securityGroups, cidrs, 443));
        const outbound = this.letsOut(c.vpc.securityGroups, 443, { group: groups, cidrs: epCidrs });
        if (inbound && outbound) return result(true, `interface endpoint ${epId} (private DNS)`);
        return result(
          false,
          `resolves to interface endpoint ${epId} (private DNS applies VPC-wide) but ${inbound ? 'its own security group blocks egress' : "the endpoint's security group does not admit it on 443"}`,
        );
      }
      const gateway = endpoints.find(
        ([, ep]) =>
          ep.VpcEndpointType === 'Gateway' &&
          c.vpc!.subnets.every((s) => (ep.RouteTableIds ?? []).map(refId).includes(this.routeTableOf(s))),
      );
      if (gateway && this.letsOut(c.vpc.securityGroups, 443, {})) return result(true, `gateway endpoint ${gateway[0]}`);
      const internet = this.viaInternet(c, 443);
      return internet ? result(true, internet) : result(false, 'no endpoint, NAT or public IP');
    }
    const internet = this.viaInternet(c, t.port);
    return internet ? result(true, internet) : result(false, 'no NAT gateway or public IP');
  }

  checkAll(): PathResult[] {
    return this.computes().flatMap((c) => c.calls.map((t) => this.check(c, t)));
  }
}

function dedupe(targets: Target[]): Target[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const key = JSON.stringify({ ...t, why: undefined });
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const ipToInt = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);

/** Is CIDR `inner` within CIDR `outer`? */
export function cidrContains(outer: string, inner: string): boolean {
  const [oIp, oBits] = outer.split('/') as [string, string];
  const [iIp, iBits] = inner.split('/') as [string, string];
  const bits = Number(oBits);
  const network = (ip: string): number => (bits === 0 ? 0 : Math.floor(ipToInt(ip) / 2 ** (32 - bits)));
  return Number(iBits) >= bits && network(oIp) === network(iIp);
}
