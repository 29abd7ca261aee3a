import { CfnOutput, Stack, aws_secretsmanager as secretsmanager, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Network } from './network.js';
import { autoScalingGroupArnFor, fleetTagKey, NodeFleet, terminationHookNameDefault } from './node-fleet.js';
import { OrchestratorService } from './orchestrator-service.js';
import { RedisCluster } from './redis-cluster.js';
import { TerminationNotices } from './termination-notices.js';

export interface CodeyardStackProps extends StackProps {
  /** Fleet name nodes report and the group is tagged with. Default `aws`. */
  readonly fleetName?: string;
  /** Orchestrator container image. Default `codeyard/orchestrator:latest` (push your own; see docs/deploy.md). */
  readonly orchestratorImage?: string;
  /** Default 2. */
  readonly orchestratorReplicaCount?: number;
  /** ACM certificate ARN for the API; HTTP on port 80 without it. */
  readonly apiCertificateArn?: string;
  /** Who may reach the API. Default 0.0.0.0/0. */
  readonly apiIngressCidr?: string;
  /** Who may reach node proxies. Default 0.0.0.0/0. */
  readonly proxyIngressCidr?: string;
  /** The codeyard release tarball nodes install (https:// or s3://). Default s3://codeyard-releases/codeyard-node.tar.gz. */
  readonly nodeSoftwareUrl?: string;
  /** Default `m6i.2xlarge`. */
  readonly nodeInstanceType?: string;
  /** Default 1. */
  readonly minNodes?: number;
  /** Default 10. */
  readonly maxNodes?: number;
  /** Default 200. */
  readonly nodeRootVolumeGiB?: number;
  /** Default 1. */
  readonly natGateways?: number;
  /** Default `cache.t4g.medium`. */
  readonly redisNodeType?: string;
}

/**
 * codeyard on AWS: network, Redis, the orchestrator service and the node fleet, wired so that
 * users reach only the API load balancer and node proxies, the orchestrator alone reaches node
 * agents and Redis, and container ports are never opened. The stack only composes constructs.
 */
export class CodeyardStack extends Stack {
  constructor(scope: Construct, id: string, props: CodeyardStackProps = {}) {
    super(scope, id, props);
    const fleetName = props.fleetName ?? 'aws';
    // Named up front: the orchestrator's policy and the EventBridge rule refer to the group by name.
    const autoScalingGroupName = `${this.stackName}-nodes`;
    const { vpc } = new Network(this, 'Network', { natGateways: props.natGateways ?? 1 });

    const joinSecret = new secretsmanager.Secret(this, 'JoinSecret', {
      description: 'codeyard fleet join secret: nodes present it when they join',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    const redis = new RedisCluster(this, 'Redis', {
      vpc,
      ...(props.redisNodeType ? { cacheNodeType: props.redisNodeType } : {}),
    });
    const notices = new TerminationNotices(this, 'TerminationNotices', { autoScalingGroupName });

    const orchestrator = new OrchestratorService(this, 'Orchestrator', {
      vpc,
      image: props.orchestratorImage ?? 'codeyard/orchestrator:latest',
      ...(props.orchestratorReplicaCount !== undefined
        ? { replicaCount: props.orchestratorReplicaCount }
        : {}),
      ...(props.apiCertificateArn ? { certificateArn: props.apiCertificateArn } : {}),
      ...(props.apiIngressCidr ? { apiIngressCidr: props.apiIngressCidr } : {}),
      redisHost: redis.host,
      redisPort: redis.port,
      redisAuthToken: redis.authToken,
      joinSecret,
      fleetName,
      autoScalingGroupName,
      autoScalingGroupArn: autoScalingGroupArnFor(this, autoScalingGroupName),
      fleetTag: { key: fleetTagKey, value: fleetName },
      terminationHookName: terminationHookNameDefault,
      terminationQueue: notices.queue,
    });

    const fleet = new NodeFleet(this, 'Nodes', {
      vpc,
      autoScalingGroupName,
      fleetName,
      orchestratorUrl: orchestrator.apiUrl,
      joinSecret,
      softwareUrl: props.nodeSoftwareUrl ?? 's3://codeyard-releases/codeyard-node.tar.gz',
      ...(props.nodeInstanceType ? { instanceType: props.nodeInstanceType } : {}),
      ...(props.minNodes !== undefined ? { minNodes: props.minNodes } : {}),
      ...(props.maxNodes !== undefined ? { maxNodes: props.maxNodes } : {}),
      ...(props.nodeRootVolumeGiB !== undefined ? { rootVolumeGiB: props.nodeRootVolumeGiB } : {}),
      ...(props.proxyIngressCidr ? { proxyIngressCidr: props.proxyIngressCidr } : {}),
    });
    redis.allowFrom(orchestrator.securityGroup);
    fleet.allowAgentFrom(orchestrator.securityGroup);

    new CfnOutput(this, 'ApiUrl', { value: orchestrator.apiUrl, description: 'codeyard API' });
    new CfnOutput(this, 'NodeGroupName', { value: fleet.autoScalingGroupName });
    new CfnOutput(this, 'TerminationQueueUrl', { value: notices.queue.queueUrl });
  }
}
