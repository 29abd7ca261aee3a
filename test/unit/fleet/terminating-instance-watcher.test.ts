import { describe, expect, it } from 'vitest';
import type { FleetDescription } from '../../../src/fleet/fleet-provider.js';
import { TerminatingInstanceWatcher } from '../../../src/fleet/terminating-instance-watcher.js';

function aFleet(instances: FleetDescription['instances']): { describe: () => Promise<FleetDescription> } {
  return {
    describe: async () => ({
      fleet: 'aws',
      minSize: 0,
      maxSize: 5,
      desiredCapacity: instances.length,
      instances,
    }),
  };
}

describe('TerminatingInstanceWatcher', () => {
  it('hands over only instances whose termination hook is pending', async () => {
    const seen: string[] = [];
    const watcher = new TerminatingInstanceWatcher({
      provider: aFleet([
        { nodeName: 'i-1', lifecycle: 'InService' },
        { nodeName: 'i-2', lifecycle: 'Terminating', terminationHookPending: true },
        { nodeName: 'i-3', lifecycle: 'Terminating' },
        { nodeName: 'i-4', lifecycle: 'Terminated' },
      ]),
      onTerminating: (name) => seen.push(name),
    });
    expect(await watcher.pollOnce()).toEqual(['i-2']);
    expect(seen).toEqual(['i-2']);
  });

  it('keeps going when one drain fails', async () => {
    const seen: string[] = [];
    const watcher = new TerminatingInstanceWatcher({
      provider: aFleet([
        { nodeName: 'i-1', lifecycle: 'Terminating', terminationHookPending: true },
        { nodeName: 'i-2', lifecycle: 'Terminating', terminationHookPending: true },
      ]),
      onTerminating: (name) => {
        seen.push(name);
        if (name === 'i-1') throw new Error('boom');
        return Promise.reject(new Error('async boom'));
      },
    });
    expect(await watcher.pollOnce()).toEqual(['i-1', 'i-2']);
    expect(seen).toEqual(['i-1', 'i-2']);
  });

  it('polls until stopped', async () => {
    let describes = 0;
    const watcher = new TerminatingInstanceWatcher({
      provider: {
        describe: async () => {
          describes += 1;
          return { fleet: 'aws', minSize: 0, maxSize: 1, desiredCapacity: 0, instances: [] };
        },
      },
      onTerminating: () => undefined,
      pollIntervalMs: 10,
    });
    watcher.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    watcher.stop();
    const atStop = describes;
    expect(atStop).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(describes).toBe(atStop);
  });
});
