import type { aws_secretsmanager as secretsmanager, aws_sqs as sqs } from 'aws-cdk-lib';
import {
  Duration,
  aws_ec2 as ec2,
  aws_ecs as ecs,
  aws_elasticloadbalancingv2 as elbv2,
  aws_iam as iam,
  aws_logs as logs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { orchestratorPortDefault } from './node-ports.js';

export interface OrchestratorServiceProps {
  readonly vpc: ec2.IVpc;
  /** The orchestrator container image (build and push it yourself; see docs/deploy.md). */
  readonly image: string;
  /** Replicas serving the API; one of them leads the reconciler. Default 2. */
  readonly replicaCount?: number;
  /** Default 512 (0.5 vCPU). */
  readonly cpuUnits?: number;
  /** Default 1024. */
  readonly memoryMiB?: number;
  /** Default 8420. */
  readonly port?: number;
  /** Who may reach the API load balancer. Default anywhere (0.0.0.0/0). */
  readonly apiIngressCidr?: string;
  /** ACM certificate for HTTPS on the load balancer; without it the API listens on HTTP port 80. */
  readonly certificateArn?: string;
  readonly redisHost: string;
  readonly redisPort: number;
  readonly redisAuthToken: secretsmanager.ISecret;
  readonly joinSecret: secretsmanager.ISecret;
  readonly fleetName: string;
  readonly autoScalingGroupName: string;
  /** ARN (pattern) of that group: the only group the task role may change. */
  readonly autoScalingGroupArn: string;
  /** The tag key and value the group carries; policies are conditioned on it as well. */
  readonly fleetTag: { readonly key: string; readonly value: string };
  readonly terminationHookName: string;
  readonly terminationQueue: sqs.IQueue;
  /** Default 1 month. */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The orchestrator: ECS Fargate tasks in private subnets behind an Application Load Balancer.
 * Its task role may change only its own Auto Scaling Group (resource ARN and group tag) and read
 * its own termination queue; secrets arrive through ECS from Secrets Manager.
 */
export class OrchestratorService extends Construct {
  readonly securityGroup: ec2.SecurityGroup;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly service: ecs.FargateService;
  readonly taskRole: iam.Role;
  readonly apiUrl: string;

  constructor(scope: Construct, id: string, props: OrchestratorServiceProps) {
    super(scope, id);
    const port = props.port ?? orchestratorPortDefault;

    const albSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: props.vpc,
      description: 'codeyard API load balancer',
      allowAllOutbound: false,
    });
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'codeyard orchestrator tasks',
      allowAllOutbound: true,
    });
    this.securityGroup.addIngressRule(albSecurityGroup, ec2.Port.tcp(port), 'API from the load balancer');
    albSecurityGroup.addEgressRule(this.securityGroup, ec2.Port.tcp(port), 'to the orchestrator tasks');

    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'codeyard orchestrator: manage its own node Auto Scaling Group only',
    });
    // DescribeAutoScalingGroups supports no resource-level permission: it must name '*'.
    this.taskRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['autoscaling:DescribeAutoScalingGroups'], resources: ['*'] }),
    );
    this.taskRole.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'autoscaling:SetDesiredCapacity',
          'autoscaling:TerminateInstanceInAutoScalingGroup',
          'autoscaling:CompleteLifecycleAction',
          'autoscaling:RecordLifecycleActionHeartbeat',
          'autoscaling:SetInstanceProtection',
        ],
        resources: [props.autoScalingGroupArn],
        conditions: {
          StringEquals: { [`autoscaling:ResourceTag/${props.fleetTag.key}`]: props.fleetTag.value },
        },
      }),
    );
    props.terminationQueue.grantConsumeMessages(this.taskRole);

    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: props.cpuUnits ?? 512,
      memoryLimitMiB: props.memoryMiB ?? 1024,
      taskRole: this.taskRole,
    });
    taskDefinition.addContainer('orchestrator', {
      image: ecs.ContainerImage.fromRegistry(props.image),
      portMappings: [{ containerPort: port }],
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'orchestrator',
        logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      }),
      environment: {
        CODEYARD_HOST: '0.0.0.0',
        CODEYARD_PORT: String(port),
        CODEYARD_FLEET_PROVIDER: 'aws',
        CODEYARD_FLEET: props.fleetName,
        CODEYARD_ASG_NAME: props.autoScalingGroupName,
        CODEYARD_TERMINATION_HOOK_NAME: props.terminationHookName,
        CODEYARD_TERMINATION_QUEUE_URL: props.terminationQueue.queueUrl,
        REDIS_HOST: props.redisHost,
        REDIS_PORT: String(props.redisPort),
      },
      secrets: {
        REDIS_AUTH_TOKEN: ecs.Secret.fromSecretsManager(props.redisAuthToken),
        CODEYARD_JOIN_SECRET: ecs.Secret.fromSecretsManager(props.joinSecret),
      },
      // The orchestrator's config takes REDIS_URL and CODEYARD_FLEET_JOIN_SECRETS whole; ECS
      // injects secrets only as whole variables, so the entry point composes them (both secrets
      // are alphanumeric, so no escaping is needed).
      entryPoint: ['sh', '-c'],
      command: [
        // `$VAR`, not `${VAR}`: CloudFormation would read the braces as its own substitutions.
        'export REDIS_URL="rediss://:$REDIS_AUTH_TOKEN@$REDIS_HOST:$REDIS_PORT" ' +
          'CODEYARD_FLEET_JOIN_SECRETS="$CODEYARD_FLEET=$CODEYARD_JOIN_SECRET"; ' +
          'exec node --import tsx src/orchestrator/main.ts',
      ],
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition,
      desiredCount: props.replicaCount ?? 2,
      securityGroups: [this.securityGroup],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      circuitBreaker: { rollback: true },
      minHealthyPercent: 100,
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      securityGroup: albSecurityGroup,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
    });
    const https = props.certificateArn !== undefined;
    const listenerPort = https ? 443 : 80;
    albSecurityGroup.addIngressRule(
      ec2.Peer.ipv4(props.apiIngressCidr ?? '0.0.0.0/0'),
      ec2.Port.tcp(listenerPort),
      'codeyard API',
    );
    const listener = this.loadBalancer.addListener('Api', {
      port: listenerPort,
      open: false,
      ...(https
        ? {
            protocol: elbv2.ApplicationProtocol.HTTPS,
            certificates: [elbv2.ListenerCertificate.fromArn(props.certificateArn)],
          }
        : { protocol: elbv2.ApplicationProtocol.HTTP }),
    });
    listener.addTargets('Orchestrator', {
      port,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service],
      healthCheck: { path: '/readyz', interval: Duration.seconds(15), healthyThresholdCount: 2 },
      // Watch streams are long-lived: give them time to finish on deploys.
      deregistrationDelay: Duration.seconds(30),
    });
    this.apiUrl = `${https ? 'https' : 'http'}://${this.loadBalancer.loadBalancerDnsName}`;
  }
}
