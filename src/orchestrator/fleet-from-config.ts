import { AwsAsgProvider } from '../fleet/aws/aws-asg-provider.js';
import type { FleetProvider } from '../fleet/fleet-provider.js';
import { RemoteFleetProvider } from '../fleet/remote-fleet-provider.js';
import { CodeyardError } from '../model/errors.js';
import type { OrchestratorConfig } from './config.js';

/**
 * With no fleet provider, nodes are started by hand and nobody can terminate one. Fencing then
 * never succeeds, so a silent node's codespaces stay where they are (never moved on absence of
 * evidence); an operator fixes or removes the node.
 */
export const unmanagedFleet: FleetProvider = {
  fleet: 'unmanaged',
  describe: async () => {
    throw new CodeyardError('FLEET_UNAVAILABLE', 'no fleet provider is configured: nodes cannot be fenced');
  },
  setDesiredCapacity: async () => {
    throw new CodeyardError('FLEET_UNAVAILABLE', 'no fleet provider is configured: the fleet cannot scale');
  },
  terminate: async (nodeName) => {
    throw new CodeyardError(
      'FLEET_UNAVAILABLE',
      `no fleet provider is configured: cannot terminate ${nodeName}`,
    );
  },
  close: async () => undefined,
};

export function fleetFromConfig(config: OrchestratorConfig): FleetProvider {
  if (config.fleetProvider === 'none') return unmanagedFleet;
  if (config.fleetProvider === 'local-service') {
    return new RemoteFleetProvider({
      fleet: config.fleetName,
      url: config.fleetServiceUrl!,
      secret: config.fleetServiceSecret!,
    });
  }
  return new AwsAsgProvider({
    fleet: config.fleetName,
    autoScalingGroupName: config.asgName!,
    terminationHookName: config.terminationHookName!,
    ...(config.awsRegion ? { region: config.awsRegion } : {}),
  });
}
