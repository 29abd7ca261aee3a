import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
  SetInstanceProtectionCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type Instance,
} from '@aws-sdk/client-auto-scaling';
import { CodeyardError } from '../../model/errors.js';
import type {
  FleetDescription,
  FleetInstance,
  FleetProvider,
  InstanceLifecycle,
  LifecycleActionStatus,
  ScaleInProtection,
  TerminationLifecycle,
} from '../fleet-provider.js';
import { silentFleetLogger, type FleetLogger } from '../fleet-logger.js';
import {
  describeError,
  isAlreadyTerminatingOrGone,
  isNoActiveLifecycleAction,
  violatesMinSize,
} from './aws-errors.js';
import { retryDefaults, withRetry, type RetryOptions } from './with-retry.js';

/** SetInstanceProtection takes at most this many instance ids per call. */
export const instanceProtectionBatchMax = 50;

export interface AwsAsgProviderOptions {
  /** The fleet name nodes report in heartbeats. */
  readonly fleet: string;
  readonly autoScalingGroupName: string;
  /** The termination hook the CDK stack creates on the group. */
  readonly terminationHookName: string;
  /** Injected so tests can pass a client wired to `aws-sdk-client-mock`; default: a client for `region`. */
  readonly client?: AutoScalingClient;
  readonly region?: string;
  readonly retry?: Partial<RetryOptions>;
  readonly logger?: FleetLogger;
}

/** Auto Scaling lifecycle states → ours. Standby and Warmed instances are not serving codespaces. */
export function lifecycleOf(state: string | undefined): InstanceLifecycle {
  if (state === undefined) return 'Pending';
  if (state === 'InService') return 'InService';
  if (state === 'Terminated' || state === 'Warmed:Terminated') return 'Terminated';
  if (state.startsWith('Terminating') || state.startsWith('Warmed:Terminating')) return 'Terminating';
  // Detaching / Detached: the instance leaves the group but keeps running — not fenced, so
  // never reported Terminated. Standby, Quarantined, root-volume replacement: still running.
  if (state.startsWith('Detach') || state.includes('Standby') || state.startsWith('Quarantined'))
    return 'InService';
  if (state.includes('RootVolume')) return 'InService';
  return 'Pending';
}

function leftTheGroup(error: unknown): boolean {
  return error instanceof CodeyardError && isAlreadyTerminatingOrGone(error.cause);
}

function instanceView(instance: Instance): FleetInstance {
  const state = instance.LifecycleState;
  return {
    nodeName: instance.InstanceId ?? '',
    lifecycle: lifecycleOf(state),
    ...(state === 'Terminating:Wait' ? { terminationHookPending: true } : {}),
  };
}

/**
 * A fleet that is one EC2 Auto Scaling Group. Node names are instance ids. Throttling and
 * contention are retried with bounded exponential back-off; terminate is idempotent; a lifecycle
 * action that is no longer waiting reports `expired` instead of failing.
 */
export class AwsAsgProvider implements FleetProvider, TerminationLifecycle, ScaleInProtection {
  readonly fleet: string;
  private readonly client: AutoScalingClient;
  private readonly ownsClient: boolean;
  private readonly retry: RetryOptions;
  private readonly logger: FleetLogger;

  constructor(private readonly options: AwsAsgProviderOptions) {
    this.fleet = options.fleet;
    this.ownsClient = options.client === undefined;
    // maxAttempts 1: retries happen in our loop only, so attempts never multiply.
    this.client = options.client ?? new AutoScalingClient({ region: options.region, maxAttempts: 1 });
    this.retry = {
      ...retryDefaults,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      random: Math.random,
      ...options.retry,
    };
    this.logger = options.logger ?? silentFleetLogger;
  }

  private async call<T>(action: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(operation, this.retry);
    } catch (error) {
      if (error instanceof CodeyardError) throw error;
      throw new CodeyardError(
        'FLEET_UNAVAILABLE',
        `${action} on ${this.options.autoScalingGroupName}: ${describeError(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  async describe(): Promise<FleetDescription> {
    const output = await this.call('DescribeAutoScalingGroups', () =>
      this.client.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [this.options.autoScalingGroupName] }),
      ),
    );
    const group = output.AutoScalingGroups?.find(
      (g) => g.AutoScalingGroupName === this.options.autoScalingGroupName,
    );
    if (group === undefined) {
      throw new CodeyardError(
        'FLEET_UNAVAILABLE',
        `Auto Scaling group ${this.options.autoScalingGroupName} not found`,
      );
    }
    return {
      fleet: this.fleet,
      minSize: group.MinSize ?? 0,
      maxSize: group.MaxSize ?? 0,
      desiredCapacity: group.DesiredCapacity ?? 0,
      instances: (group.Instances ?? []).filter((i) => i.InstanceId !== undefined).map(instanceView),
    };
  }

  async setDesiredCapacity(desired: number): Promise<void> {
    const { minSize, maxSize } = await this.describe();
    const clamped = Math.min(maxSize, Math.max(minSize, Math.floor(desired)));
    // HonorCooldown false: the autoscaler policy has its own cool-downs; the group's would only
    // delay a scale-out that users are waiting for.
    await this.call('SetDesiredCapacity', () =>
      this.client.send(
        new SetDesiredCapacityCommand({
          AutoScalingGroupName: this.options.autoScalingGroupName,
          DesiredCapacity: clamped,
          HonorCooldown: false,
        }),
      ),
    );
    this.logger.info({ fleet: this.fleet, desired: clamped, asked: desired }, 'desired capacity set');
  }

  async terminate(nodeName: string, options: { decrementDesiredCapacity: boolean }): Promise<void> {
    const send = (decrement: boolean) =>
      withRetry(
        () =>
          this.client.send(
            new TerminateInstanceInAutoScalingGroupCommand({
              InstanceId: nodeName,
              ShouldDecrementDesiredCapacity: decrement,
            }),
          ),
        this.retry,
      );
    try {
      try {
        await send(options.decrementDesiredCapacity);
      } catch (error) {
        // At min size the group cannot shrink: the node must still go (fencing), so it is replaced.
        if (!(options.decrementDesiredCapacity && violatesMinSize(error))) throw error;
        this.logger.info(
          { fleet: this.fleet, node: nodeName },
          'group at min size: terminating with replacement',
        );
        await send(false);
      }
      this.logger.info({ fleet: this.fleet, node: nodeName }, 'instance termination requested');
    } catch (error) {
      if (isAlreadyTerminatingOrGone(error)) {
        this.logger.info(
          { fleet: this.fleet, node: nodeName, error: describeError(error) },
          'instance already terminating or gone',
        );
        return;
      }
      throw new CodeyardError(
        'FLEET_UNAVAILABLE',
        `TerminateInstanceInAutoScalingGroup ${nodeName}: ${describeError(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  async recordLifecycleActionHeartbeat(nodeName: string): Promise<LifecycleActionStatus> {
    return this.lifecycleCall('RecordLifecycleActionHeartbeat', nodeName, () =>
      this.client.send(
        new RecordLifecycleActionHeartbeatCommand({
          AutoScalingGroupName: this.options.autoScalingGroupName,
          LifecycleHookName: this.options.terminationHookName,
          InstanceId: nodeName,
        }),
      ),
    ).then((status) => (status === 'expired' ? 'expired' : 'active'));
  }

  async completeLifecycleAction(
    nodeName: string,
    result: 'CONTINUE' | 'ABANDON',
  ): Promise<LifecycleActionStatus> {
    return this.lifecycleCall('CompleteLifecycleAction', nodeName, () =>
      this.client.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: this.options.autoScalingGroupName,
          LifecycleHookName: this.options.terminationHookName,
          InstanceId: nodeName,
          LifecycleActionResult: result,
        }),
      ),
    );
  }

  private async lifecycleCall(
    action: string,
    nodeName: string,
    send: () => Promise<unknown>,
  ): Promise<LifecycleActionStatus> {
    try {
      await withRetry(send, this.retry);
      return 'completed';
    } catch (error) {
      if (isNoActiveLifecycleAction(error)) {
        // The hook timed out (or someone completed it): the instance goes on regardless.
        this.logger.warn(
          { fleet: this.fleet, node: nodeName, action },
          'no active lifecycle action: hook already done',
        );
        return 'expired';
      }
      throw new CodeyardError('FLEET_UNAVAILABLE', `${action} ${nodeName}: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  async setScaleInProtection(nodeNames: readonly string[], protectedFromScaleIn: boolean): Promise<void> {
    for (let start = 0; start < nodeNames.length; start += instanceProtectionBatchMax) {
      const batch = nodeNames.slice(start, start + instanceProtectionBatchMax);
      try {
        await this.protect(batch, protectedFromScaleIn);
      } catch (error) {
        // One instance that left the group fails the whole batch: retry one by one, skipping the gone.
        if (!leftTheGroup(error)) throw error;
        for (const nodeName of batch) {
          try {
            if (batch.length > 1) await this.protect([nodeName], protectedFromScaleIn);
            else throw error;
          } catch (single) {
            if (!leftTheGroup(single)) throw single;
            this.logger.info(
              { fleet: this.fleet, node: nodeName },
              'scale-in protection skipped: instance left the group',
            );
          }
        }
      }
    }
  }

  private protect(nodeNames: readonly string[], protectedFromScaleIn: boolean): Promise<unknown> {
    return this.call('SetInstanceProtection', () =>
      this.client.send(
        new SetInstanceProtectionCommand({
          AutoScalingGroupName: this.options.autoScalingGroupName,
          InstanceIds: [...nodeNames],
          ProtectedFromScaleIn: protectedFromScaleIn,
        }),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }
}
