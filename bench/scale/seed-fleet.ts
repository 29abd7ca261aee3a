import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { benchCodespace } from '../lib/bench-codespace.js';
import { codespaceName, fakeHeartbeat } from './fleet-fixtures.js';

const seedInFlight = 32;
const codespacesPerOwner = 100;

export async function inFlight<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/**
 * Seeds the fleet the scale benchmark places into: `nodes` ready node records through the real
 * heartbeat script (no containers yet) and `codespaces` Pending codespaces, 100 per owner.
 * Returns the codespaces' names.
 */
export async function seedFleet(
  store: RedisStore,
  size: { nodes: number; codespaces: number },
): Promise<string[]> {
  const nodeIndexes = Array.from({ length: size.nodes }, (_, i) => i);
  await inFlight(nodeIndexes, seedInFlight, (index) =>
    store.applyHeartbeat(fakeHeartbeat({ index, sequence: 1, containers: 0 }), { receivedAtMs: Date.now() }),
  );
  const names = Array.from({ length: size.codespaces }, (_, i) => codespaceName(i));
  await inFlight(names, seedInFlight, (name) =>
    store.createCodespace(
      benchCodespace({ name, owner: `owner-${Math.floor(Number(name.slice(3)) / codespacesPerOwner)}` }),
      { maxPerOwner: codespacesPerOwner },
    ),
  );
  return names;
}
