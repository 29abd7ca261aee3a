import { freeLoopbackPort } from '../../src/fleet/local/free-port.js';
import { afterAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/node-agent/runtime/docker-runtime.js';
import {
  aSpec,
  aWorkload,
  removeDockerNode,
  requireDockerAndImage,
  waitForHttp,
} from './node-agent-support.js';

const workspaceImage = 'codeyard/workspace:latest';
requireDockerAndImage(workspaceImage);

describe('the code-server workspace image under the DockerRuntime', () => {
  const nodeName = `rt-code-server-${process.pid}`;
  afterAll(() => removeDockerNode(nodeName));

  it('answers the VS Code workbench page on its loopback port, unprivileged', async () => {
    const runtime = new DockerRuntime({ nodeName });
    const workload = aWorkload({
      hostPort: await freeLoopbackPort(),
      spec: aSpec({ image: workspaceImage, resources: { cpu: 1, memoryMiB: 1024, diskGiB: 1 } }),
    });
    const container = await runtime.ensure(workload);
    expect(container.state).toBe('running');

    // code-server redirects `/` to `/?folder=…`; fetch follows it to the workbench HTML.
    const response = await waitForHttp(`http://127.0.0.1:${workload.hostPort}/`, 60_000);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('workbench');
    expect(response.url).toContain('folder=');
  }, 120_000);
});
