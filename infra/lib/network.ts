import { aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface NetworkProps {
  /** Availability zones used (taken from `Stack.availabilityZones`, no lookup). Default 2. */
  readonly maxAzs?: number;
  /** NAT gateways for the private subnets' egress; one per AZ for zone-independent egress. Default 1. */
  readonly natGateways?: number;
  /** Default 10.40.0.0/16. */
  readonly cidr?: string;
}

/**
 * The VPC: public subnets (load balancer, nodes whose proxies users reach) and private subnets
 * with NAT egress (orchestrator tasks, Redis). Built without context lookups so `npm run synth`
 * works offline and the stack stays environment-agnostic.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr ?? '10.40.0.0/16'),
      maxAzs: props.maxAzs ?? 2,
      natGateways: props.natGateways ?? 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
    });
  }
}
