import pino from 'pino';
import type { Codespace } from '../../../src/model/codespace.js';
import type { NodeRecord } from '../../../src/model/node.js';
import { buildOrchestratorApp, type OrchestratorApp } from '../../../src/orchestrator/app.js';
import { systemClock, type Clock } from '../../../src/orchestrator/clock.js';
import { orchestratorConfigDefaults, type OrchestratorConfig } from '../../../src/orchestrator/config.js';
import type { OrchestratorContext } from '../../../src/orchestrator/context.js';
import { createOrchestratorMetrics } from '../../../src/orchestrator/metrics.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import type { Store } from '../../../src/store/store.js';
import { issueApiToken } from '../../../src/tokens/issue-token.js';
import { generateSigningKey, SigningKeyRing } from '../../../src/tokens/signing-keys.js';

export const localFleetSecret = 'local-fleet-secret-0123456789abcdef';
export const otherFleetSecret = 'other-fleet-secret-0123456789abcdef';

export interface ApiHarness {
  app: OrchestratorApp;
  store: Store;
  context: OrchestratorContext;
  keyRing: SigningKeyRing;
  tokenFor(user: string, options?: { admin?: boolean }): Promise<string>;
  /** `Authorization` header for a user (a fresh token each call unless `token` is given). */
  authFor(user: string, options?: { admin?: boolean }): Promise<{ authorization: string }>;
  close(): Promise<void>;
}

export interface ApiHarnessOptions {
  config?: Partial<OrchestratorConfig>;
  store?: Store;
  clock?: Clock;
  assignmentsFor?: OrchestratorContext['assignmentsFor'];
}

/** The orchestrator app over a MemoryStore (or a given store), with its own signing key and fleets. */
export async function startApiHarness(options: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const keyRing = new SigningKeyRing([await generateSigningKey(Date.now())]);
  const store = options.store ?? new MemoryStore();
  const config: OrchestratorConfig = {
    ...orchestratorConfigDefaults,
    // Tests make many requests quickly; the rate-limit tests lower this again.
    rateLimitPerSecond: 10_000,
    rateLimitBurst: 10_000,
    fleetJoinSecrets: { local: localFleetSecret, other: otherFleetSecret },
    ...options.config,
  };
  const context: OrchestratorContext = {
    store,
    clock: options.clock ?? systemClock,
    keyRing,
    config,
    logger: pino({ level: 'silent' }),
    metrics: createOrchestratorMetrics(),
    ...(options.assignmentsFor ? { assignmentsFor: options.assignmentsFor } : {}),
  };
  const app = await buildOrchestratorApp(context);
  await app.ready();
  const tokenFor = (user: string, tokenOptions: { admin?: boolean } = {}) =>
    issueApiToken(keyRing, { user, role: tokenOptions.admin ? 'admin' : 'user' });
  return {
    app,
    store,
    context,
    keyRing,
    tokenFor,
    authFor: async (user, tokenOptions) => ({
      authorization: `Bearer ${await tokenFor(user, tokenOptions)}`,
    }),
    close: async () => {
      await app.close();
      await store.close();
    },
  };
}

/** Everything the store holds that a request could change: compared before and after hostile requests. */
export async function storeSnapshot(store: Store): Promise<{
  resourceVersion: number;
  codespaces: Codespace[];
  nodes: NodeRecord[];
}> {
  const list = await store.listCodespaces();
  return { resourceVersion: list.resourceVersion, codespaces: list.items, nodes: await store.listNodes() };
}

export function createBody(
  name: string,
  spec: Record<string, unknown> = {},
  labels?: Record<string, string>,
) {
  return { metadata: { name, ...(labels ? { labels } : {}) }, spec };
}
