import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
  SetInstanceProtectionCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AwsAsgProvider, lifecycleOf } from '../../../src/fleet/aws/aws-asg-provider.js';
import { isConfirmedTerminated } from '../../../src/fleet/fleet-provider.js';
import { CodeyardError } from '../../../src/model/errors.js';

const groupName = 'codeyard-nodes';
const hookName = 'codeyard-drain';

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}
const throttling = () => awsError('Throttling', 'Rate exceeded');
const noActiveAction = (id: string) =>
  awsError('ValidationError', `No active Lifecycle Action found with instance ID ${id}`);

const asgMock = mockClient(AutoScalingClient);
let sleeps: number[];

function provider(): AwsAsgProvider {
  sleeps = [];
  return new AwsAsgProvider({
    fleet: 'aws-main',
    autoScalingGroupName: groupName,
    terminationHookName: hookName,
    client: new AutoScalingClient({ region: 'eu-west-1' }),
    retry: {
      maxAttempts: 4,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
    },
  });
}

const group = {
  AutoScalingGroupName: groupName,
  MinSize: 1,
  MaxSize: 5,
  DesiredCapacity: 3,
  DefaultCooldown: 300,
  AvailabilityZones: ['eu-west-1a'],
  HealthCheckType: 'EC2',
  CreatedTime: new Date(0),
  LaunchConfigurationName: undefined,
  Instances: [
    { InstanceId: 'i-0aaaaaaaaaaaaaaa1', LifecycleState: 'InService' as const },
    { InstanceId: 'i-0aaaaaaaaaaaaaaa2', LifecycleState: 'Pending' as const },
    { InstanceId: 'i-0aaaaaaaaaaaaaaa3', LifecycleState: 'Terminating:Wait' as const },
  ].map((i) => ({
    ...i,
    AvailabilityZone: 'eu-west-1a',
    HealthStatus: 'Healthy',
    ProtectedFromScaleIn: false,
  })),
};

beforeEach(() => {
  asgMock.reset();
});
afterEach(() => {
  asgMock.reset();
});

describe('AwsAsgProvider.describe', () => {
  it('reports group bounds and instances with their lifecycle, Terminating:Wait as hook pending', async () => {
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group] });
    const description = await provider().describe();
    expect(description).toEqual({
      fleet: 'aws-main',
      minSize: 1,
      maxSize: 5,
      desiredCapacity: 3,
      instances: [
        { nodeName: 'i-0aaaaaaaaaaaaaaa1', lifecycle: 'InService' },
        { nodeName: 'i-0aaaaaaaaaaaaaaa2', lifecycle: 'Pending' },
        { nodeName: 'i-0aaaaaaaaaaaaaaa3', lifecycle: 'Terminating', terminationHookPending: true },
      ],
    });
    expect(asgMock.commandCalls(DescribeAutoScalingGroupsCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupNames: [groupName],
    });
  });

  it('retries through throttling with growing back-off', async () => {
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .rejectsOnce(throttling())
      .rejectsOnce(awsError('ThrottlingException', 'slow down'))
      .resolves({ AutoScalingGroups: [group] });
    const description = await provider().describe();
    expect(description.instances).toHaveLength(3);
    expect(sleeps).toEqual([100, 200]);
  });

  it('gives up after the bounded attempts with FLEET_UNAVAILABLE', async () => {
    asgMock.on(DescribeAutoScalingGroupsCommand).rejects(throttling());
    await expect(provider().describe()).rejects.toMatchObject({ code: 'FLEET_UNAVAILABLE' });
    expect(asgMock.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(4);
  });

  it('fails with FLEET_UNAVAILABLE when the group does not exist', async () => {
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    await expect(provider().describe()).rejects.toBeInstanceOf(CodeyardError);
  });

  it('never reports a detached (still running) instance as terminated', () => {
    expect(lifecycleOf('Detached')).toBe('InService');
    expect(lifecycleOf('Terminated')).toBe('Terminated');
    expect(lifecycleOf('Terminating:Proceed')).toBe('Terminating');
    expect(lifecycleOf('Pending:Wait')).toBe('Pending');
  });

  it('lets isConfirmedTerminated see a Terminated instance as fenced and a terminating one as not', async () => {
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          ...group,
          Instances: [
            { ...group.Instances[0]!, LifecycleState: 'Terminated' },
            { ...group.Instances[2]!, LifecycleState: 'Terminating:Wait' },
          ],
        },
      ],
    });
    const description = await provider().describe();
    expect(isConfirmedTerminated(description, 'i-0aaaaaaaaaaaaaaa1')).toBe(true);
    expect(isConfirmedTerminated(description, 'i-0aaaaaaaaaaaaaaa3')).toBe(false);
  });
});

describe('AwsAsgProvider.setDesiredCapacity', () => {
  it('clamps to the group bounds and does not honour the group cooldown', async () => {
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group] });
    asgMock.on(SetDesiredCapacityCommand).resolves({});
    await provider().setDesiredCapacity(9);
    expect(asgMock.commandCalls(SetDesiredCapacityCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: groupName,
      DesiredCapacity: 5,
      HonorCooldown: false,
    });
  });

  it('retries a scaling activity in progress', async () => {
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group] });
    asgMock
      .on(SetDesiredCapacityCommand)
      .rejectsOnce(awsError('ScalingActivityInProgress', 'busy'))
      .resolves({});
    await provider().setDesiredCapacity(2);
    expect(asgMock.commandCalls(SetDesiredCapacityCommand)).toHaveLength(2);
  });
});

describe('AwsAsgProvider.terminate', () => {
  it('terminates that instance, decrementing desired capacity when asked', async () => {
    asgMock.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    await provider().terminate('i-0aaaaaaaaaaaaaaa1', { decrementDesiredCapacity: true });
    expect(asgMock.commandCalls(TerminateInstanceInAutoScalingGroupCommand)[0]?.args[0].input).toEqual({
      InstanceId: 'i-0aaaaaaaaaaaaaaa1',
      ShouldDecrementDesiredCapacity: true,
    });
  });

  it('succeeds when the instance is already terminating', async () => {
    asgMock
      .on(TerminateInstanceInAutoScalingGroupCommand)
      .rejects(
        awsError('ValidationError', 'The instance i-0aaaaaaaaaaaaaaa1 is not in InService or Standby.'),
      );
    await expect(
      provider().terminate('i-0aaaaaaaaaaaaaaa1', { decrementDesiredCapacity: false }),
    ).resolves.toBeUndefined();
  });

  it('succeeds for an unknown instance (already gone)', async () => {
    asgMock
      .on(TerminateInstanceInAutoScalingGroupCommand)
      .rejects(
        awsError(
          'ValidationError',
          'The instance i-0bbbbbbbbbbbbbbb9 is not part of Auto Scaling group codeyard-nodes.',
        ),
      );
    await expect(
      provider().terminate('i-0bbbbbbbbbbbbbbb9', { decrementDesiredCapacity: true }),
    ).resolves.toBeUndefined();
  });

  it('succeeds when AWS no longer knows the instance', async () => {
    asgMock
      .on(TerminateInstanceInAutoScalingGroupCommand)
      .rejects(
        awsError('ValidationError', 'Instance Id not found - No managed instance found for instance ID i-0b'),
      );
    await expect(provider().terminate('i-0b', { decrementDesiredCapacity: false })).resolves.toBeUndefined();
  });

  it('at min size, terminates without the decrement (the node is replaced) instead of reporting success', async () => {
    const atMin = awsError(
      'ValidationError',
      "Currently, desiredSize equals minSize (1). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.",
    );
    asgMock
      .on(TerminateInstanceInAutoScalingGroupCommand, { ShouldDecrementDesiredCapacity: true })
      .rejects(atMin);
    asgMock
      .on(TerminateInstanceInAutoScalingGroupCommand, { ShouldDecrementDesiredCapacity: false })
      .resolves({});
    await provider().terminate('i-0aaaaaaaaaaaaaaa1', { decrementDesiredCapacity: true });
    expect(
      asgMock
        .commandCalls(TerminateInstanceInAutoScalingGroupCommand)
        .map((c) => c.args[0].input.ShouldDecrementDesiredCapacity),
    ).toEqual([true, false]);
  });

  it('retries throttling, then terminates', async () => {
    asgMock.on(TerminateInstanceInAutoScalingGroupCommand).rejectsOnce(throttling()).resolves({});
    await provider().terminate('i-0aaaaaaaaaaaaaaa1', { decrementDesiredCapacity: true });
    expect(asgMock.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(2);
  });

  it('surfaces any other failure as FLEET_UNAVAILABLE', async () => {
    asgMock.on(TerminateInstanceInAutoScalingGroupCommand).rejects(awsError('AccessDenied', 'not allowed'));
    await expect(
      provider().terminate('i-0aaaaaaaaaaaaaaa1', { decrementDesiredCapacity: true }),
    ).rejects.toMatchObject({
      code: 'FLEET_UNAVAILABLE',
    });
  });
});

describe('AwsAsgProvider lifecycle actions', () => {
  it('completes the action with CONTINUE on the configured hook', async () => {
    asgMock.on(CompleteLifecycleActionCommand).resolves({});
    expect(await provider().completeLifecycleAction('i-0aaaaaaaaaaaaaaa3', 'CONTINUE')).toBe('completed');
    expect(asgMock.commandCalls(CompleteLifecycleActionCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: groupName,
      LifecycleHookName: hookName,
      InstanceId: 'i-0aaaaaaaaaaaaaaa3',
      LifecycleActionResult: 'CONTINUE',
    });
  });

  it('records a heartbeat for the instance', async () => {
    asgMock.on(RecordLifecycleActionHeartbeatCommand).resolves({});
    expect(await provider().recordLifecycleActionHeartbeat('i-0aaaaaaaaaaaaaaa3')).toBe('active');
    expect(asgMock.commandCalls(RecordLifecycleActionHeartbeatCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: groupName,
      LifecycleHookName: hookName,
      InstanceId: 'i-0aaaaaaaaaaaaaaa3',
    });
  });

  it('treats "No active Lifecycle Action found" (hook timed out) as expired, not an error', async () => {
    asgMock.on(RecordLifecycleActionHeartbeatCommand).rejects(noActiveAction('i-0aaaaaaaaaaaaaaa3'));
    asgMock.on(CompleteLifecycleActionCommand).rejects(noActiveAction('i-0aaaaaaaaaaaaaaa3'));
    const p = provider();
    expect(await p.recordLifecycleActionHeartbeat('i-0aaaaaaaaaaaaaaa3')).toBe('expired');
    expect(await p.completeLifecycleAction('i-0aaaaaaaaaaaaaaa3', 'CONTINUE')).toBe('expired');
  });

  it('retries a throttled completion', async () => {
    asgMock.on(CompleteLifecycleActionCommand).rejectsOnce(throttling()).resolves({});
    expect(await provider().completeLifecycleAction('i-0aaaaaaaaaaaaaaa3', 'CONTINUE')).toBe('completed');
    expect(asgMock.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(2);
  });
});

describe('AwsAsgProvider.setScaleInProtection', () => {
  it('protects instances in batches of at most 50', async () => {
    asgMock.on(SetInstanceProtectionCommand).resolves({});
    const ids = Array.from({ length: 120 }, (_, i) => `i-${String(i).padStart(17, '0')}`);
    await provider().setScaleInProtection(ids, true);
    const calls = asgMock.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.InstanceIds?.length)).toEqual([50, 50, 20]);
    expect(calls.every((c) => c.ProtectedFromScaleIn === true && c.AutoScalingGroupName === groupName)).toBe(
      true,
    );
  });

  it('skips an instance that left the group and still protects the rest of its batch', async () => {
    const gone = awsError(
      'ValidationError',
      'The instance i-0bbbbbbbbbbbbbbb9 is not part of Auto Scaling group codeyard-nodes.',
    );
    asgMock.on(SetInstanceProtectionCommand).resolves({});
    asgMock
      .on(SetInstanceProtectionCommand, { InstanceIds: ['i-0aaaaaaaaaaaaaaa1', 'i-0bbbbbbbbbbbbbbb9'] })
      .rejects(gone);
    asgMock.on(SetInstanceProtectionCommand, { InstanceIds: ['i-0bbbbbbbbbbbbbbb9'] }).rejects(gone);
    await provider().setScaleInProtection(['i-0aaaaaaaaaaaaaaa1', 'i-0bbbbbbbbbbbbbbb9'], false);
    const calls = asgMock.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input.InstanceIds);
    expect(calls).toEqual([
      ['i-0aaaaaaaaaaaaaaa1', 'i-0bbbbbbbbbbbbbbb9'],
      ['i-0aaaaaaaaaaaaaaa1'],
      ['i-0bbbbbbbbbbbbbbb9'],
    ]);
  });
});
