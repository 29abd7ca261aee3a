/**
 * A stop withdraws the codespace's route from the local KV file before the container is stopped,
 * so the node proxy (which watches that file) stops forwarding before the container goes away.
 * Found by the idle-race chaos scenario: requests arriving during an idle stop were forwarded into
 * the dying container (502) and their activity recorded for a codespace on its way down.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  localKvFileName,
  parseLocalKv,
  routeIn,
  type Route,
} from '../../../src/node-agent/local-kv-format.js';
import { IdleMonitor } from '../../../src/node-agent/idle-monitor.js';
import { anEnsureRequest, silentLogger, startHarness, type Harness } from './agent-harness.js';

function routeOnDisk(h: Harness, name: string): Route | undefined {
  return routeIn(parseLocalKv(readFileSync(join(h.dataDir, localKvFileName), 'utf8')), name);
}

describe('a stop', () => {
  let h: Harness | undefined;
  afterEach(async () => h?.close());

  async function startOne(harness: Harness, uid: string, name: string): Promise<void> {
    const response = await harness.app.inject({
      method: 'PUT',
      url: `/v1/codespaces/${uid}`,
      headers: { authorization: `Bearer ${await harness.token()}` },
      payload: anEnsureRequest({ name }),
    });
    expect(response.statusCode).toBe(200);
    await harness.kv.flush();
  }

  it('takes the route out of service on disk before the container is stopped', async () => {
    h = await startHarness({ portStart: 43_760 });
    await startOne(h, 'uid-quiet', 'quiet');
    expect(routeOnDisk(h, 'quiet')?.state).toBe('running');
    const seenAtStop: (Route | undefined)[] = [];
    const stop = h.runtime.stop.bind(h.runtime);
    h.runtime.stop = async (uid) => {
      seenAtStop.push(routeOnDisk(h!, 'quiet'));
      return stop(uid);
    };
    h.kv.update('uid-quiet', { startedAt: new Date(Date.now() - 1_200_000).toISOString() });
    await new IdleMonitor({
      agent: h.agent,
      logger: silentLogger,
      policy: { msPerIdleSecond: 1000 },
    }).checkOnce();
    expect(seenAtStop).toHaveLength(1);
    expect(seenAtStop[0]).toMatchObject({ state: 'stopping', ready: false });
    expect(h.kv.get('uid-quiet')).toMatchObject({ state: 'exited', stopReason: 'Idle' });
    await h.kv.flush();
    expect(routeOnDisk(h, 'quiet')).toBeUndefined();
  });

  it('puts the route back when the runtime fails to stop the container', async () => {
    h = await startHarness({ portStart: 43_775 });
    await startOne(h, 'uid-stuck', 'stuck');
    const stop = h.runtime.stop.bind(h.runtime);
    h.runtime.stop = () => Promise.reject(new Error('engine refused the stop'));
    await expect(h.agent.stop('uid-stuck', { generation: 2, reason: 'User' }, 1)).rejects.toThrow(
      'engine refused the stop',
    );
    h.runtime.stop = stop;
    expect(h.kv.get('uid-stuck')).toMatchObject({ state: 'running' });
    expect(h.kv.get('uid-stuck')?.stopReason).toBeUndefined();
    expect((await h.runtime.inspect('uid-stuck'))?.state).toBe('running');
    // The readiness probe serves it again once it answers.
    await expect.poll(() => h!.kv.get('uid-stuck')?.ready, { timeout: 10_000 }).toBe(true);
  });
});
