import type { Redis } from 'ioredis';
import type { Codespace } from '../../model/codespace.js';
import { matchesLabels } from '../label-selector.js';
import { listLimitMax, type ListJsonResult, type ListOptions, type ListResult } from '../store.js';
import { parseCodespace } from './codespace-json.js';
import type { StoreKeys } from './keys.js';
import { guarded, toStoreError } from './unavailable.js';

/** Keys per MGET: big enough to amortise round trips, small enough not to stall Redis. */
const fetchChunkSize = 1000;
/** Names scanned per round when a label selector may reject most of them. */
const selectorBatchSize = 500;

/** One listed item: its JSON as stored, and the parsed object when the selector needed it. */
interface ListedEntry {
  name: string;
  json: string;
  parsed: Codespace | undefined;
}

/** A page of codespaces in name order (see `listEntries`), parsed. */
export async function listCodespaces(
  redis: Redis,
  keys: StoreKeys,
  options: ListOptions,
): Promise<ListResult> {
  const page = await listEntries(redis, keys, options);
  return { ...page, items: page.items.map((entry) => entry.parsed ?? parseCodespace(entry.json)) };
}

/** The same page as `listCodespaces`, each item the JSON string Redis holds (no parse without a selector). */
export async function listCodespaceJson(
  redis: Redis,
  keys: StoreKeys,
  options: ListOptions,
): Promise<ListJsonResult> {
  const page = await listEntries(redis, keys, options);
  return { ...page, items: page.items.map((entry) => entry.json) };
}

/**
 * A page of codespaces in name order: `ZRANGEBYLEX` on the all-names (or the owner's) index from
 * `continueAfter`, then `MGET`; a label selector is applied after the fetch, and paging goes on
 * until `limit` items matched or the index is exhausted. No script: reads never block writers.
 */
async function listEntries(
  redis: Redis,
  keys: StoreKeys,
  options: ListOptions,
): Promise<{ items: ListedEntry[]; resourceVersion: number; continueAfter?: string }> {
  const limit = Math.max(1, Math.min(options.limit ?? listLimitMax, listLimitMax));
  const index = options.owner === undefined ? keys.codespaceNames : keys.ownerCodespaces(options.owner);
  const selector = options.labelSelector;
  const hasSelector = selector !== undefined && Object.keys(selector).length > 0;
  const batchSize = hasSelector ? Math.max(selectorBatchSize, limit + 1) : limit + 1;
  let lowerBound = options.continueAfter === undefined ? '-' : `(${options.continueAfter}`;

  // The version is read before any name (same pipeline, in order): whatever changes while we
  // page has a higher version, so a watch from it replays the change (possibly one we already
  // show — consumers go by version).
  const [resourceVersion, firstNames] = await guarded(async () => {
    const replies = await redis
      .pipeline()
      .get(keys.resourceVersion)
      .zrangebylex(index, lowerBound, '+', 'LIMIT', 0, batchSize)
      .exec();
    return [Number(replyOf<string | null>(replies, 0) ?? '0'), replyOf<string[]>(replies, 1)] as const;
  });

  const items: ListedEntry[] = [];
  let more = false;
  let names = firstNames;
  for (;;) {
    if (names.length === 0) {
      break;
    }
    const values = await fetchCodespaces(redis, keys, names);
    let position = 0;
    for (; position < values.length && items.length < limit; position += 1) {
      const json = values[position];
      if (json === null || json === undefined) {
        continue; // deleted between the index read and the fetch
      }
      let parsed: Codespace | undefined;
      if (hasSelector) {
        parsed = parseCodespace(json);
        if (!matchesLabels(parsed.metadata.labels, selector)) {
          continue;
        }
      }
      items.push({ name: names[position]!, json, parsed });
    }
    if (items.length >= limit) {
      more = position < names.length || (await hasNameAfter(redis, index, names[names.length - 1]!));
      break;
    }
    if (names.length < batchSize) {
      break;
    }
    lowerBound = `(${names[names.length - 1]!}`;
    const bound = lowerBound;
    names = await guarded(() => redis.zrangebylex(index, bound, '+', 'LIMIT', 0, batchSize));
  }
  const last = items[items.length - 1];
  return {
    items,
    resourceVersion,
    ...(more && last !== undefined ? { continueAfter: last.name } : {}),
  };
}

async function fetchCodespaces(
  redis: Redis,
  keys: StoreKeys,
  names: readonly string[],
): Promise<(string | null)[]> {
  const pipeline = redis.pipeline();
  for (let start = 0; start < names.length; start += fetchChunkSize) {
    pipeline.mget(names.slice(start, start + fetchChunkSize).map((name) => keys.codespace(name)));
  }
  const replies = await guarded(() => pipeline.exec());
  const values: (string | null)[] = [];
  for (let index = 0; index < (replies?.length ?? 0); index += 1) {
    values.push(...replyOf<(string | null)[]>(replies, index));
  }
  return values;
}

async function hasNameAfter(redis: Redis, index: string, name: string): Promise<boolean> {
  const next = await guarded(() => redis.zrangebylex(index, `(${name}`, '+', 'LIMIT', 0, 1));
  return next.length > 0;
}

/** One reply of a pipeline, or its error as a `CodeyardError`. */
function replyOf<T>(replies: [Error | null, unknown][] | null, index: number): T {
  const reply = replies?.[index];
  if (reply === undefined) {
    throw toStoreError(new Error('pipeline aborted'));
  }
  if (reply[0] !== null) {
    throw toStoreError(reply[0]);
  }
  return reply[1] as T;
}
