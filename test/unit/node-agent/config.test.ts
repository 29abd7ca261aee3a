import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../../src/node-agent/config.js';

describe('agent config', () => {
  it('has defaults that work on a laptop', () => {
    const config = loadAgentConfig({});
    expect(config).toMatchObject({
      nodeName: 'local-node',
      agentHost: '127.0.0.1',
      orchestratorUrl: 'http://127.0.0.1:8420',
      jwksUrl: 'http://127.0.0.1:8420/v1/jwks.json',
      portRange: { start: 42_000, end: 42_999 },
      maxContainers: 20,
      heartbeatIntervalMs: 5_000,
      runtime: 'auto',
      joinSecret: undefined,
      idleMsPerSecond: 1000,
    });
  });

  it('names the variable and the reason for an invalid value', () => {
    expect(() => loadAgentConfig({ CODEYARD_MAX_CONTAINERS: 'lots' })).toThrow(
      /CODEYARD_MAX_CONTAINERS.*whole number/,
    );
    expect(() => loadAgentConfig({ CODEYARD_PORT_RANGE: '5-1' })).toThrow(/CODEYARD_PORT_RANGE/);
    expect(() => loadAgentConfig({ CODEYARD_PORT_RANGE: '43000-43004' })).toThrow(
      /fewer ports than CODEYARD_MAX_CONTAINERS/,
    );
    expect(() => loadAgentConfig({ CODEYARD_RUNTIME: 'podman' })).toThrow(/CODEYARD_RUNTIME/);
    expect(() => loadAgentConfig({ CODEYARD_NODE_NAME: '../x' })).toThrow(/CODEYARD_NODE_NAME/);
    expect(() => loadAgentConfig({ CODEYARD_ORCHESTRATOR_URL: 'ftp://x' })).toThrow(
      /CODEYARD_ORCHESTRATOR_URL/,
    );
    expect(() => loadAgentConfig({ CODEYARD_JOIN_SECRET: 'short' })).toThrow(/CODEYARD_JOIN_SECRET/);
    expect(() => loadAgentConfig({ CODEYARD_PROCESS_COMMAND: '"node"' })).toThrow(/JSON array/);
    expect(() => loadAgentConfig({ CODEYARD_LOG_LEVEL: 'chatty' })).toThrow(/CODEYARD_LOG_LEVEL/);
  });

  it('reads the test knobs for idle timing', () => {
    const config = loadAgentConfig({
      CODEYARD_IDLE_MS_PER_SECOND: '10',
      CODEYARD_IDLE_CHECK_INTERVAL_MS: '100',
    });
    expect(config.idleMsPerSecond).toBe(10);
    expect(config.idleCheckIntervalMs).toBe(100);
  });
});
