import { describe, expect, it } from 'vitest';
import { CodeyardError } from '../../../src/model/errors.js';
import type { WatchEvent } from '../../../src/model/events.js';
import { PushedEventFeed } from '../../../src/store/redis/pushed-event-feed.js';
import { aCodespace } from '../../support/fixtures.js';

/** What a write script publishes for version `version`. */
function message(version: number, type: WatchEvent['type'] = 'MODIFIED'): string {
  const codespace = aCodespace({ name: `cs-${version}` });
  return `${version} ${type} ${JSON.stringify({ ...codespace, metadata: { ...codespace.metadata, resourceVersion: String(version) } })}`;
}

function eventOf(version: number): WatchEvent {
  const [, type, json] = /^(\d+) (\w+) (.*)$/s.exec(message(version))!.slice(1);
  return { type: type as WatchEvent['type'], resourceVersion: version, object: JSON.parse(json!) };
}

/** A feed over a fake stream holding versions 1…`streamEnd` (minus `missing`), trimmed below `oldest`. */
function setup(options: { streamEnd: number; oldest?: number; missing?: number[] }) {
  const deliveries: number[][] = [];
  const reads: number[] = [];
  const feed = new PushedEventFeed({
    readCountMax: 3,
    retryDelayMs: 1,
    deliver: (events) => deliveries.push(events.map((e) => e.resourceVersion)),
    readPosition: async () => options.streamEnd,
    readAfter: async (after, limit) => {
      reads.push(after);
      if (after + 1 < (options.oldest ?? 1) && after < options.streamEnd) {
        throw new CodeyardError('RESOURCE_VERSION_TOO_OLD', `resourceVersion ${after} is too old`);
      }
      const events: WatchEvent[] = [];
      for (let v = after + 1; v <= options.streamEnd && events.length < limit; v += 1) {
        if (!options.missing?.includes(v)) events.push(eventOf(v));
      }
      return events;
    },
  });
  return { feed, deliveries, reads, flat: () => deliveries.flat() };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('PushedEventFeed', () => {
  it('delivers messages pushed in one tick as one batch, in order, dropping what it already delivered', async () => {
    const { feed, deliveries, reads } = setup({ streamEnd: 12 });
    feed.push(message(9)); // before begin: at or below the position, dropped
    feed.begin(10);
    feed.push(message(11));
    feed.push(message(12));
    feed.push(message(11)); // a duplicate
    await settle();
    expect(deliveries).toEqual([[11, 12]]);
    expect(reads).toEqual([]);
  });

  it('reads a gap from the stream, then goes on with what was pushed: every version once, in order', async () => {
    const { feed, flat, reads } = setup({ streamEnd: 20 });
    feed.begin(10);
    feed.push(message(11));
    await settle();
    feed.push(message(18)); // 12…17 were never pushed (a reconnect, a writer that did not publish)
    feed.push(message(19));
    await settle();
    feed.push(message(20));
    await settle();
    expect(flat()).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(reads[0]).toBe(11);
  });

  it('treats a message it cannot parse as missing and reads that version from the stream', async () => {
    const { feed, flat } = setup({ streamEnd: 3 });
    feed.begin(0);
    feed.push(message(1));
    feed.push('2 MODIFIED {not json');
    feed.push(message(3));
    await settle();
    expect(flat()).toEqual([1, 2, 3]);
  });

  it('catches up with everything the stream holds beyond what it delivered', async () => {
    const { feed, flat } = setup({ streamEnd: 8 });
    feed.begin(1);
    feed.catchUp();
    await settle();
    expect(flat()).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(await feed.behind()).toBe(false);
  });

  it('skips ahead past history that was trimmed, so that the hub sees the jump', async () => {
    const { feed, flat } = setup({ streamEnd: 30, oldest: 25 });
    feed.begin(10);
    feed.push(message(30));
    await settle();
    expect(flat()).toEqual([30]);
  });

  it('goes on past a version the stream never got', async () => {
    const { feed, flat } = setup({ streamEnd: 4, missing: [3] });
    feed.begin(1);
    feed.push(message(4));
    await settle();
    expect(flat()).toEqual([2, 4]);
  });
});
