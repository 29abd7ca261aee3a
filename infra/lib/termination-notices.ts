import { Duration, aws_events as events, aws_events_targets as targets, aws_sqs as sqs } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface TerminationNoticesProps {
  /** The node group whose termination lifecycle actions are forwarded. */
  readonly autoScalingGroupName: string;
  /** How long a received notice stays hidden from other orchestrator replicas. Default 5 min. */
  readonly visibilityTimeoutSeconds?: number;
}

/**
 * EventBridge → SQS: every "EC2 Instance-terminate Lifecycle Action" of the node group lands on a
 * queue the orchestrator reads (and heartbeats / completes the action through the API).
 */
export class TerminationNotices extends Construct {
  readonly queue: sqs.Queue;

  constructor(scope: Construct, id: string, props: TerminationNoticesProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.hours(4),
      // Longer than one drain pass, so a notice is not handed to a second replica mid-drain.
      visibilityTimeout: Duration.seconds(props.visibilityTimeoutSeconds ?? 300),
    });
    new events.Rule(this, 'TerminatingRule', {
      description: 'codeyard node terminating: tell the orchestrator to drain it',
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [props.autoScalingGroupName] },
      },
      targets: [new targets.SqsQueue(this.queue)],
    });
  }
}
