/**
 * The one behaviour suite every `Store` must pass. `memory-store.test.ts` runs it against
 * `MemoryStore`; `test/integration/redis-store.test.ts` against `RedisStore` on a real redis-server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Codespace } from '../../../src/model/codespace.js';
import { CodeyardError, type ErrorCode } from '../../../src/model/errors.js';
import type { WatchEvent } from '../../../src/model/events.js';
import type { Store, WatchSubscription } from '../../../src/store/store.js';
import { aCodespace, aHeartbeat } from '../../support/fixtures.js';

export interface StoreFactoryOptions {
  /** Watch events retained; small values let a test trigger RESOURCE_VERSION_TOO_OLD. */
  historyLimit?: number;
}

export type StoreFactory = (options?: StoreFactoryOptions) => Promise<Store>;

const quota = { maxPerOwner: 10_000 };
const now = '2026-01-01T00:05:00.000Z';

export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<CodeyardError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(CodeyardError);
  expect((error as CodeyardError).code).toBe(code);
  return error as CodeyardError;
}

/** Takes exactly `count` events from a watch, failing after `timeoutMs`. */
export async function takeEvents(
  iterator: AsyncIterator<WatchEvent>,
  count: number,
  timeoutMs = 10_000,
): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (events.length < count) {
    const remainingMs = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(remainingMs, 0));
    });
    const result = await Promise.race([iterator.next(), timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      throw new Error(`timed out after ${events.length} of ${count} events`);
    }
    if (result.done === true) {
      throw new Error(`watch ended after ${events.length} of ${count} events`);
    }
    events.push(result.value);
  }
  return events;
}

export function watchIterator(
  store: Store,
  options: { fromResourceVersion: number; signal: AbortSignal; bufferLimit?: number },
): AsyncIterator<WatchEvent> {
  return store.watchCodespaces(options)[Symbol.asyncIterator]();
}

function placed(codespace: Codespace): Codespace {
  return { ...codespace, status: { ...codespace.status, phase: 'Running', nodeName: 'node-a' } };
}

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`${name} (Store contract)`, () => {
    const opened: Store[] = [];
    const controllers: AbortController[] = [];

    async function open(options?: StoreFactoryOptions): Promise<Store> {
      const store = await factory(options);
      opened.push(store);
      return store;
    }

    function signal(): AbortSignal {
      const controller = new AbortController();
      controllers.push(controller);
      return controller.signal;
    }

    afterEach(async () => {
      for (const controller of controllers.splice(0)) {
        controller.abort();
      }
      for (const store of opened.splice(0)) {
        await store.close();
      }
    });

    describe('codespaces', () => {
      it('assigns increasing resourceVersions on create and returns what get returns', async () => {
        const store = await open();
        const first = await store.createCodespace(aCodespace({ name: 'alpha' }), quota);
        const second = await store.createCodespace(aCodespace({ name: 'beta' }), quota);
        expect(Number(second.metadata.resourceVersion)).toBeGreaterThan(
          Number(first.metadata.resourceVersion),
        );
        expect(await store.getCodespace('alpha')).toEqual(first);
        expect(await store.currentResourceVersion()).toBe(Number(second.metadata.resourceVersion));
      });

      it('answers undefined for an unknown codespace', async () => {
        const store = await open();
        expect(await store.getCodespace('nobody-here')).toBeUndefined();
      });

      it('refuses a second codespace with the same name', async () => {
        const store = await open();
        await store.createCodespace(aCodespace({ name: 'dup' }), quota);
        await expectCode(
          store.createCodespace(aCodespace({ name: 'dup', owner: 'bob' }), quota),
          'CODESPACE_EXISTS',
        );
        expect((await store.getCodespace('dup'))?.metadata.owner).toBe('alice');
      });

      it('refuses a create beyond the owner quota but not for another owner', async () => {
        const store = await open();
        await store.createCodespace(aCodespace({ owner: 'carol' }), { maxPerOwner: 2 });
        await store.createCodespace(aCodespace({ owner: 'carol' }), { maxPerOwner: 2 });
        const versionBefore = await store.currentResourceVersion();
        await expectCode(
          store.createCodespace(aCodespace({ owner: 'carol' }), { maxPerOwner: 2 }),
          'QUOTA_EXCEEDED',
        );
        expect(await store.currentResourceVersion()).toBe(versionBefore);
        await store.createCodespace(aCodespace({ owner: 'dave' }), { maxPerOwner: 2 });
        expect((await store.listCodespaces({ owner: 'carol' })).items).toHaveLength(2);
      });

      it('lets exactly one of many concurrent creates of the same name win', async () => {
        const store = await open();
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, index) =>
            store.createCodespace(aCodespace({ name: 'race', owner: `user-${index}` }), quota),
          ),
        );
        const won = results.filter((result) => result.status === 'fulfilled');
        const lost = results.filter((result) => result.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(9);
        for (const result of lost) {
          expect((result.reason as CodeyardError).code).toBe('CODESPACE_EXISTS');
        }
      });

      it('enforces the owner quota under concurrent creates', async () => {
        const store = await open();
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, () =>
            store.createCodespace(aCodespace({ owner: 'erin' }), { maxPerOwner: 3 }),
          ),
        );
        expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(3);
        expect((await store.listCodespaces({ owner: 'erin' })).items).toHaveLength(3);
      });

      it('returns copies: changing a returned object changes nothing stored', async () => {
        const store = await open();
        const created = await store.createCodespace(
          aCodespace({ name: 'copy', labels: { app: 'web' } }),
          quota,
        );
        created.metadata.labels['app'] = 'changed';
        const read = await store.getCodespace('copy');
        read!.spec.running = !read!.spec.running;
        const again = await store.getCodespace('copy');
        expect(again?.metadata.labels['app']).toBe('web');
        expect(again?.spec.running).toBe(created.spec.running);
      });
    });

    describe('listing', () => {
      it('lists by owner and by label selector, ordered by name', async () => {
        const store = await open();
        await store.createCodespace(
          aCodespace({ name: 'c-web', owner: 'ann', labels: { app: 'web', team: 'a' } }),
          quota,
        );
        await store.createCodespace(
          aCodespace({ name: 'a-web', owner: 'ben', labels: { app: 'web', team: 'b' } }),
          quota,
        );
        await store.createCodespace(
          aCodespace({ name: 'b-db', owner: 'ann', labels: { app: 'db', team: 'a' } }),
          quota,
        );

        const all = await store.listCodespaces();
        expect(all.items.map((item) => item.metadata.name)).toEqual(['a-web', 'b-db', 'c-web']);
        expect(all.continueAfter).toBeUndefined();
        expect(all.resourceVersion).toBe(await store.currentResourceVersion());

        const ann = await store.listCodespaces({ owner: 'ann' });
        expect(ann.items.map((item) => item.metadata.name)).toEqual(['b-db', 'c-web']);

        const web = await store.listCodespaces({ labelSelector: { app: 'web' } });
        expect(web.items.map((item) => item.metadata.name)).toEqual(['a-web', 'c-web']);

        const webA = await store.listCodespaces({ labelSelector: { app: 'web', team: 'a' } });
        expect(webA.items.map((item) => item.metadata.name)).toEqual(['c-web']);

        const annWeb = await store.listCodespaces({ owner: 'ann', labelSelector: { app: 'web' } });
        expect(annWeb.items.map((item) => item.metadata.name)).toEqual(['c-web']);
      });

      it('pages through every codespace with continueAfter, each exactly once', async () => {
        const store = await open();
        const names = Array.from({ length: 7 }, (_, index) => `page-${String(index).padStart(2, '0')}`);
        for (const name of [...names].reverse()) {
          await store.createCodespace(aCodespace({ name }), quota);
        }
        const seen: string[] = [];
        const pageSizes: number[] = [];
        let continueAfter: string | undefined;
        do {
          const page = await store.listCodespaces({ limit: 3, ...(continueAfter ? { continueAfter } : {}) });
          pageSizes.push(page.items.length);
          seen.push(...page.items.map((item) => item.metadata.name));
          continueAfter = page.continueAfter;
        } while (continueAfter !== undefined);
        expect(seen).toEqual(names);
        expect(pageSizes).toEqual([3, 3, 1]);
      });

      it('fills a page with label-selected items found beyond the first batch of names', async () => {
        const store = await open();
        for (let index = 0; index < 30; index += 1) {
          const labels = index % 10 === 9 ? { tier: 'gold' } : { tier: 'plain' };
          await store.createCodespace(
            aCodespace({ name: `sel-${String(index).padStart(2, '0')}`, labels }),
            quota,
          );
        }
        const first = await store.listCodespaces({ labelSelector: { tier: 'gold' }, limit: 2 });
        expect(first.items.map((item) => item.metadata.name)).toEqual(['sel-09', 'sel-19']);
        expect(first.continueAfter).toBe('sel-19');
        const second = await store.listCodespaces({
          labelSelector: { tier: 'gold' },
          limit: 2,
          continueAfter: first.continueAfter!,
        });
        expect(second.items.map((item) => item.metadata.name)).toEqual(['sel-29']);
        expect(second.continueAfter).toBeUndefined();
      });
    });

    describe('listing as stored JSON', () => {
      it('returns the same pages as listCodespaces, each item the JSON of the object', async () => {
        const store = await open();
        for (let index = 0; index < 12; index += 1) {
          await store.createCodespace(
            aCodespace({
              name: `json-${String(index).padStart(2, '0')}`,
              owner: index % 2 === 0 ? 'ann' : 'ben',
              labels: { tier: index % 3 === 0 ? 'gold' : 'plain' },
            }),
            quota,
          );
        }
        const cases = [
          {},
          { owner: 'ann' },
          { labelSelector: { tier: 'gold' } },
          { owner: 'ben', labelSelector: { tier: 'plain' } },
          { limit: 5 },
          { owner: 'ann', limit: 2, continueAfter: 'json-02' },
          { labelSelector: { tier: 'gold' }, limit: 2, continueAfter: 'json-00' },
          { owner: 'nobody' },
        ];
        for (const options of cases) {
          const parsed = await store.listCodespaces(options);
          const json = await store.listCodespaceJson(options);
          expect(
            json.items.map((item) => JSON.parse(item) as unknown),
            JSON.stringify(options),
          ).toEqual(parsed.items);
          expect(json.continueAfter).toBe(parsed.continueAfter);
          expect(json.resourceVersion).toBe(parsed.resourceVersion);
        }
      });

      it('pages through every codespace with continueAfter, each exactly once', async () => {
        const store = await open();
        const names = Array.from({ length: 7 }, (_, index) => `jpage-${index}`);
        for (const name of names) await store.createCodespace(aCodespace({ name }), quota);
        const seen: string[] = [];
        let continueAfter: string | undefined;
        do {
          const page = await store.listCodespaceJson({
            limit: 3,
            ...(continueAfter ? { continueAfter } : {}),
          });
          seen.push(...page.items.map((item) => (JSON.parse(item) as Codespace).metadata.name));
          continueAfter = page.continueAfter;
        } while (continueAfter !== undefined);
        expect(seen).toEqual(names);
      });

      it('hands out the current version of an updated object and drops a removed one', async () => {
        const store = await open();
        const created = await store.createCodespace(aCodespace({ name: 'jv-a' }), quota);
        await store.createCodespace(aCodespace({ name: 'jv-b' }), quota);
        const updated = await store.updateCodespace(
          { ...created, spec: { ...created.spec, running: false } },
          { expectedResourceVersion: created.metadata.resourceVersion },
        );
        await store.requestCodespaceDeletion('jv-b', { now });
        const page = await store.listCodespaceJson();
        expect(page.items.map((item) => JSON.parse(item) as unknown)).toEqual([updated]);
      });
    });

    describe('listing at scale', () => {
      it('lists 1,200 codespaces in one call and finds selected ones across fetch batches', async () => {
        const store = await open();
        const count = 1200;
        const names = Array.from({ length: count }, (_, index) => `bulk-${String(index).padStart(4, '0')}`);
        for (let start = 0; start < count; start += 100) {
          await Promise.all(
            names
              .slice(start, start + 100)
              .map((name, offset) =>
                store.createCodespace(
                  aCodespace({ name, labels: { tier: (start + offset) % 400 === 399 ? 'gold' : 'plain' } }),
                  quota,
                ),
              ),
          );
        }
        const all = await store.listCodespaces();
        expect(all.items.map((item) => item.metadata.name)).toEqual(names);
        expect(all.continueAfter).toBeUndefined();

        const gold = await store.listCodespaces({ labelSelector: { tier: 'gold' }, limit: 2 });
        expect(gold.items.map((item) => item.metadata.name)).toEqual(['bulk-0399', 'bulk-0799']);
        const rest = await store.listCodespaces({
          labelSelector: { tier: 'gold' },
          limit: 2,
          continueAfter: gold.continueAfter!,
        });
        expect(rest.items.map((item) => item.metadata.name)).toEqual(['bulk-1199']);
        expect(rest.continueAfter).toBeUndefined();
      });
    });

    describe('updates', () => {
      it('replaces the object when the resourceVersion matches and stores the generation as given', async () => {
        const store = await open();
        const created = await store.createCodespace(aCodespace({ name: 'upd' }), quota);
        const changed = {
          ...created,
          metadata: { ...created.metadata, generation: 7 },
          spec: { ...created.spec, running: false },
        };
        const updated = await store.updateCodespace(changed, {
          expectedResourceVersion: created.metadata.resourceVersion,
        });
        expect(Number(updated.metadata.resourceVersion)).toBeGreaterThan(
          Number(created.metadata.resourceVersion),
        );
        expect(updated.metadata.generation).toBe(7);
        expect(updated.spec.running).toBe(false);
        expect(await store.getCodespace('upd')).toEqual(updated);
      });

      it('refuses an update from a stale resourceVersion with CONFLICT', async () => {
        const store = await open();
        const created = await store.createCodespace(aCodespace({ name: 'cas' }), quota);
        const first = await store.updateCodespace(
          { ...created, spec: { ...created.spec, running: false } },
          { expectedResourceVersion: created.metadata.resourceVersion },
        );
        await expectCode(
          store.updateCodespace(created, { expectedResourceVersion: created.metadata.resourceVersion }),
          'CONFLICT',
        );
        expect(await store.getCodespace('cas')).toEqual(first);
      });

      it('lets exactly one of many concurrent updates from the same version win', async () => {
        const store = await open();
        const created = await store.createCodespace(aCodespace({ name: 'cas-race' }), quota);
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, index) =>
            store.updateCodespace(
              { ...created, metadata: { ...created.metadata, generation: index + 2 } },
              { expectedResourceVersion: created.metadata.resourceVersion },
            ),
          ),
        );
        expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      });

      it('answers CODESPACE_NOT_FOUND when updating a missing codespace', async () => {
        const store = await open();
        await expectCode(
          store.updateCodespace(aCodespace({ name: 'ghost' }), { expectedResourceVersion: '1' }),
          'CODESPACE_NOT_FOUND',
        );
      });

      it('refuses to change the owner', async () => {
        const store = await open();
        const created = await store.createCodespace(aCodespace({ name: 'mine', owner: 'ann' }), quota);
        await expectCode(
          store.updateCodespace(
            { ...created, metadata: { ...created.metadata, owner: 'mallory' } },
            { expectedResourceVersion: created.metadata.resourceVersion },
          ),
          'VALIDATION_FAILED',
        );
      });

      it('refuses a fenced write from a deposed leader epoch with STALE_EPOCH', async () => {
        const store = await open();
        const created = await store.createCodespace(aCodespace({ name: 'fenced' }), quota);
        const leader = await store.tryAcquireLeadership({ holder: 'replica-a', leaseDurationMs: 10_000 });
        expect(leader.acquired).toBe(true);
        const updated = await store.updateCodespace(created, {
          expectedResourceVersion: created.metadata.resourceVersion,
          fence: { leaderEpoch: leader.epoch },
        });
        await store.raiseEpochAtLeast(leader.epoch + 1);
        const versionBefore = await store.currentResourceVersion();
        await expectCode(
          store.updateCodespace(updated, {
            expectedResourceVersion: updated.metadata.resourceVersion,
            fence: { leaderEpoch: leader.epoch },
          }),
          'STALE_EPOCH',
        );
        await expectCode(
          store.finalizeCodespaceDeletion('fenced', {
            expectedResourceVersion: updated.metadata.resourceVersion,
            fence: { leaderEpoch: leader.epoch },
          }),
          'STALE_EPOCH',
        );
        expect(await store.currentResourceVersion()).toBe(versionBefore);
      });
    });

    describe('two-phase delete', () => {
      it('removes a never-placed codespace at once', async () => {
        const store = await open();
        const created = await store.createCodespace(aCodespace({ name: 'unplaced', owner: 'fay' }), {
          maxPerOwner: 1,
        });
        const result = await store.requestCodespaceDeletion('unplaced', { now });
        expect(result.removed).toBe(true);
        expect(result.object.metadata.uid).toBe(created.metadata.uid);
        expect(await store.getCodespace('unplaced')).toBeUndefined();
        expect((await store.listCodespaces()).items).toHaveLength(0);
        // The quota slot is free again.
        await store.createCodespace(aCodespace({ owner: 'fay' }), { maxPerOwner: 1 });
      });

      it('marks a placed codespace Deleting, repeats harmlessly, then finalizes', async () => {
        const store = await open();
        const created = await store.createCodespace(placed(aCodespace({ name: 'placed' })), quota);
        const first = await store.requestCodespaceDeletion('placed', { now });
        expect(first.removed).toBe(false);
        expect(first.object.metadata.deletionTimestamp).toBe(now);
        expect(first.object.status.phase).toBe('Deleting');
        expect(first.object.status.nodeName).toBe('node-a');
        expect(Number(first.object.metadata.resourceVersion)).toBeGreaterThan(
          Number(created.metadata.resourceVersion),
        );

        const again = await store.requestCodespaceDeletion('placed', { now: '2026-01-01T01:00:00.000Z' });
        expect(again).toEqual({ object: first.object, removed: false });

        await store.finalizeCodespaceDeletion('placed', {
          expectedResourceVersion: first.object.metadata.resourceVersion,
        });
        expect(await store.getCodespace('placed')).toBeUndefined();
      });

      it('honours expectedResourceVersion on a delete request', async () => {
        const store = await open();
        await store.createCodespace(placed(aCodespace({ name: 'del-cas' })), quota);
        await expectCode(
          store.requestCodespaceDeletion('del-cas', { now, expectedResourceVersion: '999999' }),
          'CONFLICT',
        );
        await expectCode(store.requestCodespaceDeletion('missing', { now }), 'CODESPACE_NOT_FOUND');
      });

      it('refuses to finalize a codespace that was not marked for deletion', async () => {
        const store = await open();
        const created = await store.createCodespace(placed(aCodespace({ name: 'live' })), quota);
        await expectCode(
          store.finalizeCodespaceDeletion('live', {
            expectedResourceVersion: created.metadata.resourceVersion,
          }),
          'CONFLICT',
        );
        expect(await store.getCodespace('live')).toEqual(created);
      });
    });

    describe('watch', () => {
      it('replays every change from version 0 in order, exactly once, then follows live changes', async () => {
        const store = await open();
        const created = await store.createCodespace(aCodespace({ name: 'w1' }), quota);
        const updated = await store.updateCodespace(
          { ...created, spec: { ...created.spec, running: false } },
          { expectedResourceVersion: created.metadata.resourceVersion },
        );
        await store.requestCodespaceDeletion('w1', { now });
        const iterator = watchIterator(store, { fromResourceVersion: 0, signal: signal() });
        const history = await takeEvents(iterator, 3);
        expect(history.map((event) => event.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
        expect(history.map((event) => event.resourceVersion)).toEqual([1, 2, 3]);
        expect(history[1]!.object).toEqual(updated);
        expect(history[2]!.object.metadata.resourceVersion).toBe('3');

        const live = await store.createCodespace(aCodespace({ name: 'w2' }), quota);
        const [next] = await takeEvents(iterator, 1);
        expect(next).toEqual({ type: 'ADDED', resourceVersion: 4, object: live });
      });

      it('resumes from a middle version', async () => {
        const store = await open();
        for (let index = 0; index < 5; index += 1) {
          await store.createCodespace(aCodespace(), quota);
        }
        const events = await takeEvents(
          watchIterator(store, { fromResourceVersion: 3, signal: signal() }),
          2,
        );
        expect(events.map((event) => event.resourceVersion)).toEqual([4, 5]);
      });

      it('delivers no gap and no duplicate while writes race the catch-up', async () => {
        const store = await open();
        const writesTotal = 120;
        for (let index = 0; index < 40; index += 1) {
          await store.createCodespace(aCodespace(), quota);
        }
        const iterator = watchIterator(store, { fromResourceVersion: 0, signal: signal() });
        const writing = (async () => {
          for (let index = 40; index < writesTotal; index += 1) {
            await store.createCodespace(aCodespace(), quota);
          }
        })();
        const events = await takeEvents(iterator, writesTotal);
        await writing;
        expect(events.map((event) => event.resourceVersion)).toEqual(
          Array.from({ length: writesTotal }, (_, index) => index + 1),
        );
      });

      it('gives every one of several watchers the same events', async () => {
        const store = await open();
        const iterators = Array.from({ length: 5 }, () =>
          watchIterator(store, { fromResourceVersion: 0, signal: signal() }),
        );
        const collecting = iterators.map((iterator) => takeEvents(iterator, 10));
        for (let index = 0; index < 10; index += 1) {
          await store.createCodespace(aCodespace(), quota);
        }
        const results = await Promise.all(collecting);
        for (const events of results) {
          expect(events.map((event) => event.resourceVersion)).toEqual(
            Array.from({ length: 10 }, (_, index) => index + 1),
          );
        }
      });

      it('answers RESOURCE_VERSION_TOO_OLD once history is compacted past the requested version', async () => {
        const store = await open({ historyLimit: 10 });
        for (let index = 0; index < 150; index += 1) {
          await store.createCodespace(aCodespace(), quota);
        }
        await expectCode(
          watchIterator(store, { fromResourceVersion: 0, signal: signal() }).next(),
          'RESOURCE_VERSION_TOO_OLD',
        );
        const recent = await takeEvents(
          watchIterator(store, { fromResourceVersion: 145, signal: signal() }),
          5,
        );
        expect(recent.map((event) => event.resourceVersion)).toEqual([146, 147, 148, 149, 150]);
      });

      it('cuts off a watcher that falls more than bufferLimit events behind', async () => {
        const store = await open();
        const slow = watchIterator(store, { fromResourceVersion: 0, signal: signal(), bufferLimit: 5 });
        const fast = watchIterator(store, { fromResourceVersion: 0, signal: signal() });
        const firstSlow = slow.next();
        const firstFast = fast.next();
        await store.createCodespace(aCodespace(), quota);
        expect((await firstSlow).value?.resourceVersion).toBe(1);
        expect((await firstFast).value?.resourceVersion).toBe(1);
        for (let index = 0; index < 20; index += 1) {
          await store.createCodespace(aCodespace(), quota);
        }
        // Once the fast watcher has seen the last event, the slow one has been offered all of them.
        const rest = await takeEvents(fast, 20);
        expect(rest[19]!.resourceVersion).toBe(21);
        const after = await slow.next();
        expect(after.done).toBe(true);
      });

      it('ends the iteration when the signal aborts', async () => {
        const store = await open();
        const controller = new AbortController();
        const iterator = watchIterator(store, { fromResourceVersion: 0, signal: controller.signal });
        const pending = iterator.next();
        setTimeout(() => controller.abort(), 20);
        expect((await pending).done).toBe(true);
      });

      it('hands the same events to a batch watcher, in order and once, ready events together', async () => {
        const store = await open();
        for (let index = 0; index < 5; index += 1) await store.createCodespace(aCodespace(), quota);
        const iterator: AsyncIterator<readonly WatchEvent[], undefined> = store
          .watchCodespaceBatches({ fromResourceVersion: 2, signal: signal() })
          [Symbol.asyncIterator]();
        const first = await iterator.next();
        // History that is ready comes in one batch.
        expect(first.value!.map((event) => event.resourceVersion)).toEqual([3, 4, 5]);
        const versions: number[] = [];
        const collecting = (async () => {
          while (versions.length < 20) {
            const result = await iterator.next();
            if (result.done === true) throw new Error('batch watch ended early');
            expect(result.value.length).toBeGreaterThan(0);
            versions.push(...result.value.map((event) => event.resourceVersion));
          }
        })();
        await Promise.all(Array.from({ length: 20 }, () => store.createCodespace(aCodespace(), quota)));
        await collecting;
        expect(versions).toEqual(Array.from({ length: 20 }, (_, index) => index + 6));
        const perEvent = await takeEvents(
          watchIterator(store, { fromResourceVersion: 2, signal: signal() }),
          23,
        );
        expect(perEvent.map((event) => event.resourceVersion)).toEqual([3, 4, 5, ...versions]);
      });

      it('ends a batch watch when the signal aborts, and rejects a compacted version', async () => {
        const store = await open({ historyLimit: 10 });
        for (let index = 0; index < 150; index += 1) await store.createCodespace(aCodespace(), quota);
        await expectCode(
          store
            .watchCodespaceBatches({ fromResourceVersion: 0, signal: signal() })
            [Symbol.asyncIterator]()
            .next(),
          'RESOURCE_VERSION_TOO_OLD',
        );
        const controller = new AbortController();
        const iterator = store
          .watchCodespaceBatches({ fromResourceVersion: 150, signal: controller.signal })
          [Symbol.asyncIterator]();
        const pending = iterator.next();
        setTimeout(() => controller.abort(), 20);
        expect((await pending).done).toBe(true);
      });

      it('waits for changes when watching from the current version', async () => {
        const store = await open();
        await store.createCodespace(aCodespace(), quota);
        const from = await store.currentResourceVersion();
        const iterator = watchIterator(store, { fromResourceVersion: from, signal: signal() });
        const pending = takeEvents(iterator, 1);
        await store.createCodespace(aCodespace({ name: 'after-current' }), quota);
        const [event] = await pending;
        expect(event!.object.metadata.name).toBe('after-current');
        expect(event!.resourceVersion).toBe(from + 1);
      });
    });

    describe('push subscription', () => {
      const subscriptions: WatchSubscription[] = [];
      afterEach(() => {
        for (const subscription of subscriptions.splice(0)) subscription.close();
      });

      function subscribe(
        store: Store,
        options: { fromResourceVersion: number; bufferLimit?: number },
      ): PushRecorder {
        const recorder = new PushRecorder();
        const subscription = store.subscribeCodespaceEvents({
          ...options,
          onEvents: (events) => recorder.onEvents(events),
          onEnd: (error) => recorder.onEnd(error),
        });
        recorder.subscription = subscription;
        subscriptions.push(subscription);
        return recorder;
      }

      it('hands every change to a subscriber exactly once and in order, history first, then live', async () => {
        const store = await open();
        for (let index = 0; index < 3; index += 1) await store.createCodespace(aCodespace(), quota);
        const recorder = subscribe(store, { fromResourceVersion: 0 });
        await recorder.until(3);
        const writing = (async () => {
          for (let index = 0; index < 30; index += 1) await store.createCodespace(aCodespace(), quota);
        })();
        await Promise.all(Array.from({ length: 10 }, () => store.createCodespace(aCodespace(), quota)));
        await writing;
        await recorder.until(43);
        expect(recorder.versions()).toEqual(Array.from({ length: 43 }, (_, index) => index + 1));
        expect(recorder.batches.every((batch) => batch.length > 0 && Object.isFrozen(batch))).toBe(true);
        const last = recorder.batches.at(-1)!.at(-1)!;
        expect(last.object).toEqual(await store.getCodespace(last.object.metadata.name));
        expect(recorder.ended).toBe(false);
      });

      it('resumes a subscription from a middle version', async () => {
        const store = await open();
        for (let index = 0; index < 6; index += 1) await store.createCodespace(aCodespace(), quota);
        const recorder = subscribe(store, { fromResourceVersion: 4 });
        await recorder.until(2);
        await store.createCodespace(aCodespace(), quota);
        await recorder.until(3);
        expect(recorder.versions()).toEqual([5, 6, 7]);
      });

      it('ends a subscription from a compacted version with RESOURCE_VERSION_TOO_OLD and delivers nothing', async () => {
        const store = await open({ historyLimit: 10 });
        for (let index = 0; index < 150; index += 1) await store.createCodespace(aCodespace(), quota);
        const recorder = subscribe(store, { fromResourceVersion: 0 });
        const error = await recorder.endedWith();
        expect(error).toBeInstanceOf(CodeyardError);
        expect(error!.code).toBe('RESOURCE_VERSION_TOO_OLD');
        expect(recorder.versions()).toEqual([]);
        const recent = subscribe(store, { fromResourceVersion: 147 });
        await recent.until(3);
        expect(recent.versions()).toEqual([148, 149, 150]);
      });

      it('stops delivering after close(), also when it is called from inside onEvents, and never calls onEnd', async () => {
        const store = await open();
        const closedOutside = subscribe(store, { fromResourceVersion: 0 });
        const closedInside = subscribe(store, { fromResourceVersion: 0 });
        const watching = subscribe(store, { fromResourceVersion: 0 });
        closedInside.closeAfter = 2;
        await store.createCodespace(aCodespace(), quota);
        await closedOutside.until(1);
        closedOutside.subscription!.close();
        await Promise.all(Array.from({ length: 3 }, () => store.createCodespace(aCodespace(), quota)));
        await store.createCodespace(aCodespace(), quota);
        await store.createCodespace(aCodespace(), quota);
        await watching.until(6);
        expect(closedOutside.versions()).toEqual([1]);
        // Closed inside the batch that brought its second event (how many events that batch
        // carried depends on how they were read): no call after that one.
        const received = closedInside.batches.map((batch) => batch.length);
        const closingBatch = received.findIndex(
          (_, i) => received.slice(0, i + 1).reduce((a, b) => a + b) >= 2,
        );
        expect(closingBatch).toBeGreaterThanOrEqual(0);
        expect(closedInside.batches).toHaveLength(closingBatch + 1);
        expect(closedInside.versions()).toEqual([1, 2, 3, 4, 5, 6].slice(0, closedInside.versions().length));
        expect(closedOutside.ended || closedInside.ended).toBe(false);
      });

      it('keeps delivering to every other subscriber when one onEvents throws, and ends that one with INTERNAL', async () => {
        const store = await open();
        const failing = subscribe(store, { fromResourceVersion: 0 });
        failing.throwAfter = 2;
        const others = Array.from({ length: 3 }, () => subscribe(store, { fromResourceVersion: 0 }));
        await store.createCodespace(aCodespace(), quota);
        for (const each of [failing, ...others]) await each.until(1);
        for (let index = 0; index < 4; index += 1) await store.createCodespace(aCodespace(), quota);
        for (const other of others) {
          await other.until(5);
          expect(other.versions()).toEqual([1, 2, 3, 4, 5]);
        }
        const error = await failing.endedWith();
        expect(error!.code).toBe('INTERNAL');
        expect((error!.cause as Error).message).toBe('consumer failed');
        // Nothing more after the batch it threw on.
        expect(failing.batches).toHaveLength(2);
        expect(failing.versions()[1]).toBe(2);
      });

      it('holds events for a paused subscriber, hands them over on resume(), and cuts it off past bufferLimit', async () => {
        const store = await open();
        const recorder = subscribe(store, { fromResourceVersion: 0, bufferLimit: 5 });
        const watching = subscribe(store, { fromResourceVersion: 0 });
        await store.createCodespace(aCodespace(), quota);
        await recorder.until(1);
        recorder.subscription!.pause();
        for (let index = 0; index < 3; index += 1) await store.createCodespace(aCodespace(), quota);
        await watching.until(4);
        expect(recorder.versions()).toEqual([1]);
        recorder.subscription!.resume();
        // What was held is handed over inside resume() itself.
        expect(recorder.versions()).toEqual([1, 2, 3, 4]);
        recorder.subscription!.pause();
        for (let index = 0; index < 10; index += 1) await store.createCodespace(aCodespace(), quota);
        expect(await recorder.endedWith()).toBeUndefined();
        await watching.until(14);
        expect(recorder.versions()).toEqual([1, 2, 3, 4]);
      });
    });

    describe('nodes', () => {
      it('accepts only newer sequences within a boot and starts afresh on a new boot', async () => {
        const store = await open();
        const beat = aHeartbeat({ nodeName: 'node-1', bootId: 'boot-a', sequence: 5 });
        const first = await store.applyHeartbeat(beat, { receivedAtMs: 1000 });
        expect(first.accepted).toBe(true);
        expect(first.node).toMatchObject({
          name: 'node-1',
          bootId: 'boot-a',
          sequence: 5,
          lastHeartbeatReceivedMs: 1000,
        });

        const duplicate = await store.applyHeartbeat({ ...beat, ready: false }, { receivedAtMs: 2000 });
        expect(duplicate.accepted).toBe(false);
        expect(duplicate.node).toEqual(first.node);
        expect((await store.applyHeartbeat({ ...beat, sequence: 4 }, { receivedAtMs: 2000 })).accepted).toBe(
          false,
        );

        const newer = await store.applyHeartbeat(
          { ...beat, sequence: 6, ready: false },
          { receivedAtMs: 3000 },
        );
        expect(newer.accepted).toBe(true);
        expect(newer.node.ready).toBe(false);

        const rebooted = await store.applyHeartbeat(
          { ...beat, bootId: 'boot-b', sequence: 0 },
          { receivedAtMs: 4000 },
        );
        expect(rebooted.accepted).toBe(true);
        expect(await store.getNode('node-1')).toEqual(rebooted.node);
        expect(rebooted.node.lastHeartbeatTime).toBe(new Date(4000).toISOString());
      });

      it('keeps unschedulable across beats', async () => {
        const store = await open();
        const beat = aHeartbeat({ nodeName: 'node-2', sequence: 1 });
        await store.applyHeartbeat(beat, { receivedAtMs: 1000 });
        const cordoned = await store.setNodeUnschedulable('node-2', true);
        expect(cordoned.unschedulable).toBe(true);
        const after = await store.applyHeartbeat({ ...beat, sequence: 2 }, { receivedAtMs: 2000 });
        expect(after.node.unschedulable).toBe(true);
        const rebooted = await store.applyHeartbeat(
          { ...beat, bootId: 'other', sequence: 1 },
          { receivedAtMs: 3000 },
        );
        expect(rebooted.node.unschedulable).toBe(true);
        expect((await store.setNodeUnschedulable('node-2', false)).unschedulable).toBe(false);
        expect((await store.getNode('node-2'))?.unschedulable).toBe(false);
      });

      it('lists nodes by name, deletes them, and answers NODE_NOT_FOUND for an unknown cordon', async () => {
        const store = await open();
        await store.applyHeartbeat(aHeartbeat({ nodeName: 'node-b' }), { receivedAtMs: 1 });
        await store.applyHeartbeat(aHeartbeat({ nodeName: 'node-a' }), { receivedAtMs: 1 });
        expect((await store.listNodes()).map((node) => node.name)).toEqual(['node-a', 'node-b']);
        await store.deleteNode('node-a');
        expect(await store.getNode('node-a')).toBeUndefined();
        expect((await store.listNodes()).map((node) => node.name)).toEqual(['node-b']);
        await expectCode(store.setNodeUnschedulable('node-a', true), 'NODE_NOT_FOUND');
      });
    });

    describe('leadership', () => {
      it('grants the lease to one holder, keeps its epoch on re-acquire, and renews only a matching holder and epoch', async () => {
        const store = await open();
        const a = await store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 10_000 });
        expect(a).toMatchObject({ acquired: true, holder: 'a' });
        expect(a.epoch).toBeGreaterThanOrEqual(1);
        expect(await store.tryAcquireLeadership({ holder: 'b', leaseDurationMs: 10_000 })).toEqual({
          acquired: false,
          epoch: a.epoch,
          holder: 'a',
        });
        expect(await store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 10_000 })).toEqual(a);
        expect(await store.renewLeadership({ holder: 'a', epoch: a.epoch, leaseDurationMs: 10_000 })).toBe(
          true,
        );
        expect(await store.renewLeadership({ holder: 'b', epoch: a.epoch, leaseDurationMs: 10_000 })).toBe(
          false,
        );
        expect(
          await store.renewLeadership({ holder: 'a', epoch: a.epoch + 1, leaseDurationMs: 10_000 }),
        ).toBe(false);
      });

      it('hands the lease to another holder with a higher epoch once it expires', async () => {
        const store = await open();
        const a = await store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 100 });
        await new Promise((resolve) => setTimeout(resolve, 250));
        const b = await store.tryAcquireLeadership({ holder: 'b', leaseDurationMs: 10_000 });
        expect(b).toEqual({ acquired: true, epoch: a.epoch + 1, holder: 'b' });
        expect(await store.renewLeadership({ holder: 'a', epoch: a.epoch, leaseDurationMs: 10_000 })).toBe(
          false,
        );
      });

      it('releases only for the holder at its epoch', async () => {
        const store = await open();
        const a = await store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 10_000 });
        await store.releaseLeadership({ holder: 'b', epoch: a.epoch });
        expect((await store.tryAcquireLeadership({ holder: 'b', leaseDurationMs: 10_000 })).acquired).toBe(
          false,
        );
        await store.releaseLeadership({ holder: 'a', epoch: a.epoch });
        const b = await store.tryAcquireLeadership({ holder: 'b', leaseDurationMs: 10_000 });
        expect(b).toEqual({ acquired: true, epoch: a.epoch + 1, holder: 'b' });
      });

      it('raises the epoch counter but never lowers it, and deposes the holder it overtakes', async () => {
        const store = await open();
        const a = await store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 10_000 });
        expect(await store.raiseEpochAtLeast(50)).toBe(50);
        expect(await store.raiseEpochAtLeast(10)).toBe(50);
        expect(await store.renewLeadership({ holder: 'a', epoch: a.epoch, leaseDurationMs: 10_000 })).toBe(
          false,
        );
        const again = await store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 10_000 });
        expect(again).toEqual({ acquired: true, epoch: 51, holder: 'a' });
      });
    });

    it('refuses malformed leadership arguments with VALIDATION_FAILED', async () => {
      const store = await open();
      await expectCode(store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 0 }), 'VALIDATION_FAILED');
      await expectCode(
        store.renewLeadership({ holder: 'a', epoch: 1, leaseDurationMs: 1.5 }),
        'VALIDATION_FAILED',
      );
      await expectCode(store.raiseEpochAtLeast(-1), 'VALIDATION_FAILED');
    });

    it('answers ping', async () => {
      const store = await open();
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}

/** Records what a push subscription hands over, and lets a test wait for it. */
class PushRecorder {
  readonly batches: (readonly WatchEvent[])[] = [];
  subscription: WatchSubscription | undefined;
  ended = false;
  /** Close the subscription from inside onEvents once this many events arrived. */
  closeAfter = Number.POSITIVE_INFINITY;
  /** Throw from onEvents once this many events arrived. */
  throwAfter = Number.POSITIVE_INFINITY;
  private error: CodeyardError | undefined;
  private readonly waiters: (() => void)[] = [];

  onEvents(events: readonly WatchEvent[]): void {
    this.batches.push(events);
    this.wake();
    const count = this.versions().length;
    if (count >= this.closeAfter) this.subscription!.close();
    if (count >= this.throwAfter) throw new Error('consumer failed');
  }

  onEnd(error: CodeyardError | undefined): void {
    this.ended = true;
    this.error = error;
    this.wake();
  }

  versions(): number[] {
    return this.batches.flat().map((event) => event.resourceVersion);
  }

  /** Resolves once `count` events arrived; fails if the subscription ends first or after `timeoutMs`. */
  async until(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.versions().length < count) {
      if (this.ended)
        throw new Error(`subscription ended after ${this.versions().length} of ${count} events`);
      if (Date.now() > deadline)
        throw new Error(`timed out after ${this.versions().length} of ${count} events`);
      await this.next(deadline);
    }
  }

  /** Resolves with onEnd's error once the subscription ended by itself. */
  async endedWith(timeoutMs = 10_000): Promise<CodeyardError | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('subscription did not end');
      await this.next(deadline);
    }
    return this.error;
  }

  private next(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(deadline - Date.now(), 0) + 1);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
