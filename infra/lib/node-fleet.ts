import { readFileSync } from 'node:fs';
import type { aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import {
  Duration,
  Stack,
  Tags,
  aws_autoscaling as autoscaling,
  aws_ec2 as ec2,
  aws_iam as iam,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { nodeAgentPortDefault, nodeProxyPortDefault } from './node-ports.js';

/** The tag the orchestrator's IAM policy is conditioned on: it may act only on its own group. */
export const fleetTagKey = 'codeyard:fleet';
export const terminationHookNameDefault = 'codeyard-drain';

export interface NodeFleetProps {
  readonly vpc: ec2.IVpc;
  /** Fixed up front so the orchestrator's policy can name the group before it exists. */
  readonly autoScalingGroupName: string;
  /** Fleet name the nodes report; also the value of the `codeyard:fleet` tag. */
  readonly fleetName: string;
  /** Where nodes send heartbeats (the orchestrator API URL). */
  readonly orchestratorUrl: string;
  readonly joinSecret: secretsmanager.ISecret;
  /** Default `m6i.2xlarge` (8 vCPU, 32 GiB: 20 codespaces of 1 cpu / 1.5 GiB with headroom). */
  readonly instanceType?: string;
  /** Default 1. */
  readonly minNodes?: number;
  /** Default 10. */
  readonly maxNodes?: number;
  /** Root volume (workspace volumes live on it). Default 200 GiB. */
  readonly rootVolumeGiB?: number;
  /** How long a terminating instance may wait for its drain between heartbeats. Default 300 s. */
  readonly terminationHookTimeoutSeconds?: number;
  /** Default 7090: reachable only from `orchestratorSecurityGroup`. */
  readonly agentPort?: number;
  /** Default 7443: the only port users reach. */
  readonly proxyPort?: number;
  /** Who may reach node proxies. Default anywhere (0.0.0.0/0). */
  readonly proxyIngressCidr?: string;
  /** URL of the codeyard release tarball the nodes install (https:// or s3://). */
  readonly softwareUrl: string;
  /** Node.js version installed on nodes. Default 20.19.5. */
  readonly nodeJsVersion?: string;
  /** SSM parameter holding the AMI id (Ubuntu 24.04: debootstrap builds the workspace image). */
  readonly amiSsmParameter?: string;
}

/**
 * The nodes: a launch template (IMDSv2 only, hop limit 1 so containers cannot reach instance
 * credentials, encrypted root volume, user data from `infra/assets/node-user-data.sh`), the
 * Auto Scaling Group, its termination lifecycle hook, and the EventBridge rule that puts
 * termination notices on the SQS queue the orchestrator reads.
 */
export class NodeFleet extends Construct {
  readonly securityGroup: ec2.SecurityGroup;
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly terminationHookName: string;
  readonly autoScalingGroupName: string;
  readonly agentPort: number;
  readonly proxyPort: number;

  constructor(scope: Construct, id: string, props: NodeFleetProps) {
    super(scope, id);
    this.agentPort = props.agentPort ?? nodeAgentPortDefault;
    this.proxyPort = props.proxyPort ?? nodeProxyPortDefault;
    this.terminationHookName = terminationHookNameDefault;
    this.autoScalingGroupName = props.autoScalingGroupName;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'codeyard nodes: proxy port to users, agent port to the orchestrator, nothing else',
      allowAllOutbound: true,
    });
    this.securityGroup.addIngressRule(
      ec2.Peer.ipv4(props.proxyIngressCidr ?? '0.0.0.0/0'),
      ec2.Port.tcp(this.proxyPort),
      'node proxy: the only way users reach codespaces',
    );

    const role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'codeyard node: read its join secret, be managed through SSM',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    props.joinSecret.grantRead(role);
    if (props.softwareUrl.startsWith('s3://')) {
      const [bucket, ...key] = props.softwareUrl.slice('s3://'.length).split('/');
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [`arn:${Stack.of(this).partition}:s3:::${bucket}/${key.join('/')}`],
        }),
      );
    }

    const userData = ec2.UserData.forLinux();
    const script = readFileSync(new URL('../assets/node-user-data.sh', import.meta.url), 'utf8').replace(
      /^#!.*\n/,
      '',
    );
    userData.addCommands(
      `export CODEYARD_FLEET='${props.fleetName}'`,
      `export CODEYARD_ORCHESTRATOR_URL='${props.orchestratorUrl}'`,
      `export CODEYARD_JOIN_SECRET_ARN='${props.joinSecret.secretArn}'`,
      `export CODEYARD_SOFTWARE_URL='${props.softwareUrl}'`,
      `export CODEYARD_NODE_JS_VERSION='${props.nodeJsVersion ?? '20.19.5'}'`,
      `export CODEYARD_AGENT_PORT='${this.agentPort}'`,
      `export CODEYARD_PROXY_PORT='${this.proxyPort}'`,
      `export AWS_REGION='${Stack.of(this).region}'`,
      script,
    );

    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: new ec2.InstanceType(props.instanceType ?? 'm6i.2xlarge'),
      machineImage: ec2.MachineImage.fromSsmParameter(
        props.amiSsmParameter ??
          '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
      ),
      userData,
      role,
      securityGroup: this.securityGroup,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      associatePublicIpAddress: true,
      blockDevices: [
        {
          deviceName: '/dev/sda1',
          volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeGiB ?? 200, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
    });

    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Group', {
      autoScalingGroupName: this.autoScalingGroupName,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      launchTemplate,
      minCapacity: props.minNodes ?? 1,
      maxCapacity: props.maxNodes ?? 10,
      // Desired capacity is the orchestrator's to set; a deploy must not reset it.
      desiredCapacity: undefined,
    });
    Tags.of(this.autoScalingGroup).add(fleetTagKey, props.fleetName, { applyToLaunchedInstances: true });

    this.autoScalingGroup.addLifecycleHook('Drain', {
      lifecycleHookName: this.terminationHookName,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: Duration.seconds(props.terminationHookTimeoutSeconds ?? 300),
      // If the orchestrator is gone entirely, the instance still terminates after the timeout.
      defaultResult: autoscaling.DefaultResult.CONTINUE,
    });
  }

  /** The agent port opens to the orchestrator only. */
  allowAgentFrom(peer: ec2.ISecurityGroup): void {
    this.securityGroup.addIngressRule(
      peer,
      ec2.Port.tcp(this.agentPort),
      'node agent: orchestrator commands only',
    );
  }
}

/** ARN of a group by name, usable in IAM before the group exists (the group id part is a wildcard). */
export function autoScalingGroupArnFor(stack: Stack, autoScalingGroupName: string): string {
  return `arn:${stack.partition}:autoscaling:${stack.region}:${stack.account}:autoScalingGroup:*:autoScalingGroupName/${autoScalingGroupName}`;
}
