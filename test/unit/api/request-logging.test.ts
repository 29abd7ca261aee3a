import pino from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildOrchestratorApp } from '../../../src/orchestrator/app.js';
import { systemClock } from '../../../src/orchestrator/clock.js';
import { orchestratorConfigDefaults } from '../../../src/orchestrator/config.js';
import { createOrchestratorMetrics } from '../../../src/orchestrator/metrics.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { issueApiToken } from '../../../src/tokens/issue-token.js';
import { generateSigningKey, SigningKeyRing } from '../../../src/tokens/signing-keys.js';
import { createBody } from './api-harness.js';

/** The orchestrator app logging at `level` into an array of parsed lines. */
async function appLoggingAt(level: string) {
  const lines: { level: number; msg: string; reqId?: string; codespace?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  const keyRing = new SigningKeyRing([await generateSigningKey(Date.now())]);
  const store = new MemoryStore();
  const app = await buildOrchestratorApp({
    store,
    clock: systemClock,
    keyRing,
    config: { ...orchestratorConfigDefaults, rateLimitPerSecond: 1000, rateLimitBurst: 1000 },
    logger: pino({ level }, sink),
    metrics: createOrchestratorMetrics(),
  });
  await app.ready();
  const token = await issueApiToken(keyRing, { user: 'alice', role: 'user' });
  return { app, store, lines, headers: { authorization: `Bearer ${token}` } };
}

describe('request logging on the codespace routes', () => {
  it('writes no per-request access lines, one info line per create and delete, and still logs failures', async () => {
    const { app, store, lines, headers } = await appLoggingAt('info');
    try {
      const created = await app.inject({
        method: 'POST',
        url: '/v1/codespaces',
        headers,
        payload: createBody('log1'),
      });
      expect(created.statusCode).toBe(201);
      const patched = await app.inject({
        method: 'POST',
        url: '/v1/codespaces/log1/stop',
        headers,
      });
      expect(patched.statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/v1/codespaces', headers })).statusCode).toBe(200);
      expect((await app.inject({ method: 'DELETE', url: '/v1/codespaces/log1', headers })).statusCode).toBe(
        200,
      );
      expect(lines.map((line) => line.msg)).toEqual(['codespace created', 'codespace deletion requested']);
      expect(lines.every((line) => line.codespace === 'log1' && typeof line.reqId === 'string')).toBe(true);

      // Other routes keep their access lines.
      await app.inject({ method: 'GET', url: '/healthz' });
      expect(lines.some((line) => line.msg === 'request completed')).toBe(true);

      lines.length = 0;
      await store.close();
      const failed = await app.inject({ method: 'GET', url: '/v1/codespaces', headers });
      expect(failed.statusCode).toBe(503);
      expect(lines.map((line) => [line.level, line.msg])).toEqual([[40, 'store unavailable']]);
    } finally {
      await app.close();
    }
  });

  it('keeps a configured level that is quieter than warn', async () => {
    const { app, store, lines, headers } = await appLoggingAt('error');
    try {
      await store.close();
      const failed = await app.inject({ method: 'GET', url: '/v1/codespaces', headers });
      expect(failed.statusCode).toBe(503);
      expect(lines).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
