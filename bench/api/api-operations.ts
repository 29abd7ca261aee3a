import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { benchCodespace } from '../lib/bench-codespace.js';
import { httpRequest } from '../lib/http-client.js';

/** The operations the API benchmark times, on one side of the comparison. */
export interface ApiOperations {
  readonly label: string;
  create(name: string): Promise<void>;
  /** Flips `spec.running` to false (a real change: a write and a watch event). */
  patch(name: string): Promise<void>;
  /** The codespace was never placed, so it is removed at once. */
  remove(name: string): Promise<void>;
  /** Every codespace, page by page; resolves with how many were listed and how many pages it took. */
  listAll(pageSize: number): Promise<{ items: number; pages: number; pageMs: number[] }>;
}

export const apiUser = 'bench-user';

function expectStatus(operation: string, status: number, expected: readonly number[], body: string): void {
  if (!expected.includes(status)) throw new Error(`${operation} answered ${status}: ${body.slice(0, 200)}`);
}

/** Ours: the real fastify app on a real port (auth, validation, rate limit hook, logging, RedisStore). */
export function httpApiOperations(options: {
  baseUrl: string;
  userToken: string;
  adminToken: string;
}): ApiOperations {
  const user = { authorization: `Bearer ${options.userToken}` };
  const admin = { authorization: `Bearer ${options.adminToken}` };
  return {
    label: 'ours: HTTP API (fastify + RedisStore)',
    async create(name) {
      const reply = await httpRequest({
        method: 'POST',
        url: `${options.baseUrl}/v1/codespaces`,
        headers: user,
        body: {
          metadata: { name, labels: { team: 'bench' } },
          spec: { repository: { url: 'https://github.com/codeyard/example-repository', ref: 'main' } },
        },
      });
      expectStatus('create', reply.status, [201], reply.body);
    },
    async patch(name) {
      const reply = await httpRequest({
        method: 'PATCH',
        url: `${options.baseUrl}/v1/codespaces/${name}`,
        headers: user,
        contentType: 'application/merge-patch+json',
        body: { spec: { running: false } },
      });
      expectStatus('patch', reply.status, [200], reply.body);
    },
    async remove(name) {
      const reply = await httpRequest({
        method: 'DELETE',
        url: `${options.baseUrl}/v1/codespaces/${name}`,
        headers: user,
      });
      expectStatus('delete', reply.status, [200], reply.body);
    },
    async listAll(pageSize) {
      let items = 0;
      let pages = 0;
      const pageMs: number[] = [];
      let cursor: string | undefined;
      do {
        const started = performance.now();
        const reply = await httpRequest({
          method: 'GET',
          url:
            `${options.baseUrl}/v1/codespaces?limit=${pageSize}` +
            (cursor === undefined ? '' : `&continue=${encodeURIComponent(cursor)}`),
          headers: admin,
        });
        expectStatus('list', reply.status, [200], reply.body);
        const page = JSON.parse(reply.body) as { items: unknown[]; metadata: { continue?: string } };
        pageMs.push(performance.now() - started);
        items += page.items.length;
        pages += 1;
        cursor = page.metadata.continue;
      } while (cursor !== undefined && pages < listPagesMax);
      return { items, pages, pageMs };
    },
  };
}

/** A list never takes more pages than this (the loop is bounded even if `continue` never ends). */
const listPagesMax = 1000;

/**
 * The floor: the same store calls the handlers make, straight on a RedisStore in the load
 * generator (no HTTP, no fastify, no auth): what the API adds is the difference.
 */
export function storeFloorOperations(store: RedisStore): ApiOperations {
  return {
    label: 'floor: RedisStore calls, no HTTP',
    async create(name) {
      await store.createCodespace(benchCodespace({ name, owner: apiUser }), { maxPerOwner: 10_000 });
    },
    async patch(name) {
      // As the handler does: read, change, compare-and-set.
      const current = await store.getCodespace(name);
      if (current === undefined) throw new Error(`${name} vanished`);
      const next = { ...current, spec: { ...current.spec, running: false } };
      await store.updateCodespace(next, { expectedResourceVersion: current.metadata.resourceVersion });
    },
    async remove(name) {
      await store.getCodespace(name);
      await store.requestCodespaceDeletion(name, { now: new Date().toISOString() });
    },
    async listAll(pageSize) {
      let items = 0;
      let pages = 0;
      const pageMs: number[] = [];
      let cursor: string | undefined;
      do {
        const started = performance.now();
        const page = await store.listCodespaces({
          limit: pageSize,
          ...(cursor === undefined ? {} : { continueAfter: cursor }),
        });
        // The API sends JSON: count its serialisation as part of the floor too.
        JSON.stringify(page.items);
        pageMs.push(performance.now() - started);
        items += page.items.length;
        pages += 1;
        cursor = page.continueAfter;
      } while (cursor !== undefined && pages < listPagesMax);
      return { items, pages, pageMs };
    },
  };
}
