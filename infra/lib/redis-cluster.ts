import {
  aws_ec2 as ec2,
  aws_elasticache as elasticache,
  aws_secretsmanager as secretsmanager,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { redisPort } from './node-ports.js';

export interface RedisClusterProps {
  readonly vpc: ec2.IVpc;
  /** Default `cache.t4g.medium`. */
  readonly cacheNodeType?: string;
  /** Primary plus replicas, spread over AZs; at least 2 for automatic failover. Default 2. */
  readonly nodeCount?: number;
  /** Default 7.1. */
  readonly engineVersion?: string;
}

/**
 * The orchestrator's store: an ElastiCache Redis replication group with TLS in transit,
 * encryption at rest, an AUTH token kept in Secrets Manager, and Multi-AZ automatic failover.
 * Reachable only from security groups that are explicitly allowed (`allowFrom`).
 */
export class RedisCluster extends Construct {
  readonly replicationGroup: elasticache.CfnReplicationGroup;
  readonly authToken: secretsmanager.Secret;
  readonly securityGroup: ec2.SecurityGroup;
  readonly port = redisPort;

  constructor(scope: Construct, id: string, props: RedisClusterProps) {
    super(scope, id);
    const nodeCount = Math.max(2, props.nodeCount ?? 2);
    this.authToken = new secretsmanager.Secret(this, 'AuthToken', {
      description: 'codeyard Redis AUTH token',
      // ElastiCache tokens are 16-128 printable characters without / " @; alphanumerics also
      // keep the token safe inside a redis:// URL without escaping.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'codeyard Redis: only the orchestrator may connect',
      allowAllOutbound: false,
    });
    const subnets = new elasticache.CfnSubnetGroup(this, 'Subnets', {
      description: 'codeyard Redis subnets',
      subnetIds: props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
    });
    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: 'codeyard orchestrator store',
      engine: 'redis',
      engineVersion: props.engineVersion ?? '7.1',
      cacheNodeType: props.cacheNodeType ?? 'cache.t4g.medium',
      numCacheClusters: nodeCount,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      // A dynamic reference: CloudFormation resolves it; the token never appears in the template.
      authToken: this.authToken.secretValue.unsafeUnwrap(),
      port: redisPort,
      cacheSubnetGroupName: subnets.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
    });
  }

  allowFrom(peer: ec2.ISecurityGroup): void {
    this.securityGroup.addIngressRule(peer, ec2.Port.tcp(redisPort), 'Redis from the orchestrator');
  }

  get host(): string {
    return this.replicationGroup.attrPrimaryEndPointAddress;
  }
}
