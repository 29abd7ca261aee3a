import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { CodeyardStack } from '../../../infra/lib/codeyard-stack.js';
import {
  containerPortRangeEndDefault,
  containerPortRangeStartDefault,
  nodeAgentPortDefault,
  nodeProxyPortDefault,
  orchestratorPortDefault,
} from '../../../infra/lib/node-ports.js';
import { loadAgentConfig } from '../../../src/node-agent/config.js';
import { proxyListenPortDefault } from '../../../src/node-proxy/config.js';
import { orchestratorConfigDefaults } from '../../../src/orchestrator/config.js';

type Resource = { Type: string; Properties?: Record<string, unknown> };
type Statement = { Effect?: string; Action?: string | string[]; Resource?: unknown; Condition?: unknown };

// One synth for the whole file: synthesis takes seconds on a busy 2-core machine.
let template: Template;
let resources: Record<string, Resource>;

beforeAll(() => {
  const app = new App();
  const stack = new CodeyardStack(app, 'CodeyardTest');
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Resource>;
});

function logicalIdOf(type: string, predicate: (properties: Record<string, unknown>) => boolean): string {
  const ids = Object.entries(resources)
    .filter(([, r]) => r.Type === type && predicate(r.Properties ?? {}))
    .map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

const groupIdOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'GroupId'] });

interface IngressRule {
  readonly groupLogicalId: string;
  readonly fromPort: number;
  readonly toPort: number;
  readonly ipProtocol: string;
  readonly cidr?: unknown;
  readonly sourceGroup?: unknown;
}

/** Every ingress rule, whether inline in a security group or a separate SecurityGroupIngress resource. */
function ingressRules(): IngressRule[] {
  const rules: IngressRule[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const p = resource.Properties ?? {};
    const toRule = (groupLogicalId: string, r: Record<string, unknown>): IngressRule => ({
      groupLogicalId,
      fromPort: (r.FromPort as number | undefined) ?? 0,
      toPort: (r.ToPort as number | undefined) ?? 65_535,
      ipProtocol: String(r.IpProtocol),
      cidr: r.CidrIp ?? r.CidrIpv6,
      sourceGroup: r.SourceSecurityGroupId,
    });
    if (resource.Type === 'AWS::EC2::SecurityGroup') {
      for (const r of (p.SecurityGroupIngress as Record<string, unknown>[] | undefined) ?? [])
        rules.push(toRule(id, r));
    }
    if (resource.Type === 'AWS::EC2::SecurityGroupIngress') {
      const group = (p.GroupId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      rules.push(toRule(group, p));
    }
  }
  return rules;
}

function statements(): { owner: string; statement: Statement }[] {
  const found: { owner: string; statement: Statement }[] = [];
  const add = (owner: string, document: unknown) => {
    const list = (document as { Statement?: Statement[] } | undefined)?.Statement ?? [];
    for (const statement of list) found.push({ owner, statement });
  };
  for (const [id, resource] of Object.entries(resources)) {
    const p = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy')
      add(id, p.PolicyDocument);
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of (p.Policies as { PolicyDocument: unknown }[] | undefined) ?? [])
        add(id, policy.PolicyDocument);
    }
  }
  return found;
}

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

describe('CodeyardStack', () => {
  it('has a termination lifecycle hook that continues by default after 300 s', () => {
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      LifecycleHookName: 'codeyard-drain',
      HeartbeatTimeout: 300,
      DefaultResult: 'CONTINUE',
    });
  });

  it('forwards termination lifecycle actions of its own group to an encrypted SQS queue via EventBridge', () => {
    const queue = logicalIdOf('AWS::SQS::Queue', () => true);
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: ['CodeyardTest-nodes'] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [queue, 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      AutoScalingGroupName: 'CodeyardTest-nodes',
      Tags: Match.arrayWith([{ Key: 'codeyard:fleet', Value: 'aws', PropagateAtLaunch: true }]),
    });
  });

  it('grants no statement with action * on resource *, nor any service-wide autoscaling:* action', () => {
    const all = statements();
    expect(all.length).toBeGreaterThan(0);
    for (const { owner, statement } of all) {
      if (statement.Effect !== 'Allow') continue;
      const actions = asList(statement.Action);
      const resourcesOf = asList(statement.Resource);
      const wildcardAction = actions.some(
        (a) => a === '*' || (typeof a === 'string' && /^[a-z0-9-]+:\*$/.test(a)),
      );
      expect({ owner, wildcardAction, actions }).toMatchObject({ wildcardAction: false });
      if (resourcesOf.includes('*')) {
        // Only read-only describe calls that support no resource-level permission may name '*'.
        expect({ owner, actions }).toEqual({ owner, actions: ['autoscaling:DescribeAutoScalingGroups'] });
      }
    }
  });

  it("limits the orchestrator's Auto Scaling writes to its own group by ARN and tag", () => {
    const write = statements().find(({ statement }) =>
      asList(statement.Action).includes('autoscaling:SetDesiredCapacity'),
    );
    expect(write).toBeDefined();
    expect(asList(write!.statement.Action).sort()).toEqual(
      [
        'autoscaling:CompleteLifecycleAction',
        'autoscaling:RecordLifecycleActionHeartbeat',
        'autoscaling:SetDesiredCapacity',
        'autoscaling:SetInstanceProtection',
        'autoscaling:TerminateInstanceInAutoScalingGroup',
      ].sort(),
    );
    expect(write!.statement.Condition).toEqual({
      StringEquals: { 'autoscaling:ResourceTag/codeyard:fleet': 'aws' },
    });
    expect(JSON.stringify(write!.statement.Resource)).toContain(':autoScalingGroupName/CodeyardTest-nodes');
  });

  it('runs Redis with TLS in transit, encryption at rest, an AUTH token from Secrets Manager and Multi-AZ failover', () => {
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      NumCacheClusters: 2,
      AuthToken: Match.objectLike({
        'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('resolve:secretsmanager')])]),
      }),
    });
  });

  it('opens the agent port only to the orchestrator, the proxy port to users, and never the container port range', () => {
    const nodes = logicalIdOf('AWS::EC2::SecurityGroup', (p) =>
      String(p.GroupDescription).startsWith('codeyard nodes'),
    );
    const orchestrator = logicalIdOf(
      'AWS::EC2::SecurityGroup',
      (p) => p.GroupDescription === 'codeyard orchestrator tasks',
    );
    const redis = logicalIdOf('AWS::EC2::SecurityGroup', (p) =>
      String(p.GroupDescription).startsWith('codeyard Redis'),
    );
    const rules = ingressRules();

    const nodeRules = rules.filter((r) => r.groupLogicalId === nodes);
    expect(nodeRules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          fromPort: nodeAgentPortDefault,
          toPort: nodeAgentPortDefault,
          sourceGroup: groupIdOf(orchestrator),
        }),
        expect.objectContaining({
          fromPort: nodeProxyPortDefault,
          toPort: nodeProxyPortDefault,
          cidr: '0.0.0.0/0',
        }),
      ]),
    );
    expect(nodeRules).toHaveLength(2);
    // The agent port is reachable from no address range at all.
    expect(
      nodeRules.filter(
        (r) => r.fromPort <= nodeAgentPortDefault && nodeAgentPortDefault <= r.toPort && r.cidr,
      ),
    ).toEqual([]);
    // No rule anywhere overlaps the container host-port range, and no rule opens every protocol.
    for (const rule of rules) {
      expect(rule.ipProtocol).not.toBe('-1');
      const overlaps =
        rule.fromPort <= containerPortRangeEndDefault && rule.toPort >= containerPortRangeStartDefault;
      expect({ rule, overlaps }).toMatchObject({ overlaps: false });
    }
    expect(rules.filter((r) => r.groupLogicalId === redis)).toEqual([
      expect.objectContaining({ fromPort: 6379, toPort: 6379, sourceGroup: groupIdOf(orchestrator) }),
    ]);
  });

  it('launches nodes with IMDSv2 only (hop limit 1), an encrypted root volume and the bootstrap script', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
      }),
    });
    const userData = JSON.stringify(template.findResources('AWS::EC2::LaunchTemplate'));
    expect(userData).toContain('apt-get install -y -q docker.io');
    expect(userData).toContain('images/build.sh');
    expect(userData).toContain('codeyard-agent.service');
  });

  it('runs the orchestrator on Fargate behind a load balancer and outputs the API URL', () => {
    template.hasResourceProperties('AWS::ECS::Service', { LaunchType: 'FARGATE', DesiredCount: 2 });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: orchestratorPortDefault,
      HealthCheckPath: '/readyz',
    });
    template.hasOutput('ApiUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
  });

  it('uses the ports the node and orchestrator processes actually listen on by default', () => {
    const agent = loadAgentConfig({});
    expect(agent.agentPort).toBe(nodeAgentPortDefault);
    expect(agent.portRange).toEqual({
      start: containerPortRangeStartDefault,
      end: containerPortRangeEndDefault,
    });
    expect(proxyListenPortDefault).toBe(nodeProxyPortDefault);
    expect(orchestratorConfigDefaults.port).toBe(orchestratorPortDefault);
  });
});
