export * from './fleet-provider.js';
export * from './fleet-logger.js';
export * from './autoscaler-policy.js';
export * from './termination-hook.js';
export * from './terminating-instance-watcher.js';
export { AwsAsgProvider, lifecycleOf, type AwsAsgProviderOptions } from './aws/aws-asg-provider.js';
export { resolveInstanceId, type InstanceIdentityOptions } from './aws/instance-identity.js';
export { LocalFleetProvider, type LocalFleetProviderOptions } from './local/local-fleet-provider.js';
export {
  processNodeLauncher,
  nodeEnvironment,
  type LocalNodeSpec,
  type NodeLauncher,
  type LaunchedProcess,
} from './local/node-launcher.js';
export {
  dockerWorkloadFence,
  processWorkloadFence,
  noWorkloadFence,
  runtimeWorkloadFence,
  type WorkloadFence,
} from './local/workload-fence.js';
export {
  RemoteFleetProvider,
  remoteFleetCallTimeoutMsDefault,
  type RemoteFleetProviderOptions,
} from './remote-fleet-provider.js';
export { startFleetService, type FleetService, type FleetServiceOptions } from './local/fleet-service.js';
