import { agentPortDefault } from '../../src/node-agent/config.js';
import { portRangeEndDefault, portRangeStartDefault } from '../../src/node-agent/port-pool.js';
import { proxyListenPortDefault } from '../../src/node-proxy/config.js';
import { orchestratorConfigDefaults } from '../../src/orchestrator/config.js';

/**
 * The ports the stack opens (or keeps closed), taken from the defaults of the code that listens
 * on them, so a changed default cannot leave a security group pointing at the wrong port.
 */
export const nodeAgentPortDefault = agentPortDefault;
export const nodeProxyPortDefault = proxyListenPortDefault;
/** Container host ports: bound to loopback by the agent and never opened in a security group. */
export const containerPortRangeStartDefault = portRangeStartDefault;
export const containerPortRangeEndDefault = portRangeEndDefault;
export const orchestratorPortDefault = orchestratorConfigDefaults.port;
export const redisPort = 6379;
