import { freeLoopbackPort } from '../../src/fleet/local/free-port.js';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { containerNameFor } from '../../src/model/codespace.js';
import { DockerRuntime } from '../../src/node-agent/runtime/docker-runtime.js';
import {
  aSpec,
  aWorkload,
  removeDockerNode,
  requireDockerAndImage,
  waitForHttp,
} from './node-agent-support.js';
import { describeRuntimeContract } from './runtime-contract.js';

requireDockerAndImage();

describeRuntimeContract('docker', {
  nodeName: `rt-docker-${process.pid}`,
  firstPort: 43_100,
  create: (nodeName) => new DockerRuntime({ nodeName }),
  cleanup: async (nodeName) => {
    removeDockerNode(nodeName);
    removeDockerNode(`${nodeName}-other`);
  },
});

describe('docker runtime hardening', () => {
  const nodeName = `rt-docker-hardening-${process.pid}`;
  afterAll(() => removeDockerNode(nodeName));

  it('runs workspaces unprivileged, limited, loopback-only, without the Docker socket, and never restarts them itself', async () => {
    const runtime = new DockerRuntime({ nodeName, pidsLimit: 256 });
    const workload = aWorkload({
      hostPort: await freeLoopbackPort(),
      spec: aSpec({
        resources: { cpu: 0.5, memoryMiB: 512, diskGiB: 1 },
        repository: { url: 'https://example.invalid/repo.git' },
      }),
    });
    await runtime.ensure(workload);
    await waitForHttp(`http://127.0.0.1:${workload.hostPort}/healthz`);
    const info = JSON.parse(
      execFileSync('docker', ['inspect', containerNameFor(workload.uid)], { encoding: 'utf8' }),
    )[0];
    expect(info.Config.User).toBe('1000:1000');
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.CapAdd ?? []).toEqual([]);
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
    expect(info.HostConfig.Memory).toBe(512 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.PidsLimit).toBe(256);
    expect(info.HostConfig.RestartPolicy.Name).toBe('no');
    expect(info.HostConfig.LogConfig).toEqual({
      Type: 'json-file',
      Config: { 'max-file': '3', 'max-size': '10m' },
    });
    expect(info.HostConfig.PortBindings).toEqual({
      '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(workload.hostPort) }],
    });
    const mounts = info.Mounts as { Type: string; Source: string; Destination: string; Name?: string }[];
    expect(mounts).toHaveLength(1);
    expect(mounts[0]).toMatchObject({
      Type: 'volume',
      Destination: '/home/coder',
      Name: `codeyard-vol-${workload.uid}`,
    });
    expect(JSON.stringify(info)).not.toContain('docker.sock');
    expect(info.Config.Env).toEqual(
      expect.arrayContaining([
        `CODEYARD_CODESPACE_NAME=${workload.name}`,
        'CODEYARD_GIT_REPOSITORY=https://example.invalid/repo.git',
      ]),
    );
    expect(info.Config.Labels).toMatchObject({
      'dev.codeyard.managed': 'true',
      'dev.codeyard.node': nodeName,
      'dev.codeyard.uid': workload.uid,
    });
  });
});
