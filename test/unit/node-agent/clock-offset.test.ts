/**
 * The agent's test-only clock offset (CODEYARD_CLOCK_OFFSET_MS, used by the chaos suite to skew
 * a node against the orchestrator): parsed with its sign, bounded, and carried into the beat's
 * `sentAt`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Heartbeat } from '../../../src/model/node.js';
import { clockOffsetMsMax, loadAgentConfig } from '../../../src/node-agent/config.js';
import { HeartbeatClient } from '../../../src/node-agent/heartbeat-client.js';
import { silentLogger } from './agent-harness.js';

describe('agent clock offset setting', () => {
  it('is 0 unless set, and reads negative and positive skews', () => {
    expect(loadAgentConfig({}).clockOffsetMs).toBe(0);
    expect(loadAgentConfig({ CODEYARD_CLOCK_OFFSET_MS: '-300000' }).clockOffsetMs).toBe(-300_000);
    expect(loadAgentConfig({ CODEYARD_CLOCK_OFFSET_MS: '300000' }).clockOffsetMs).toBe(300_000);
  });

  it('names the variable for a value that is not a whole number or beyond a day', () => {
    expect(() => loadAgentConfig({ CODEYARD_CLOCK_OFFSET_MS: '5m' })).toThrow(
      /CODEYARD_CLOCK_OFFSET_MS.*whole number/,
    );
    expect(() => loadAgentConfig({ CODEYARD_CLOCK_OFFSET_MS: String(clockOffsetMsMax + 1) })).toThrow(
      /CODEYARD_CLOCK_OFFSET_MS.*outside/,
    );
  });
});

describe('a heartbeat from a skewed node', () => {
  it("stamps sentAt with the node's own clock", async () => {
    const received: Heartbeat[] = [];
    const server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        received.push(JSON.parse(raw) as Heartbeat);
        res.setHeader('content-type', 'application/json');
        res.end('{"accepted":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const skewMs = -5 * 60_000;
    try {
      const client = new HeartbeatClient({
        orchestratorUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        nodeName: 'skewed',
        joinSecret: 'x'.repeat(16),
        logger: silentLogger,
        nowMs: () => Date.now() + skewMs,
        build: async () => ({}) as Omit<Heartbeat, 'sequence' | 'sentAt'>,
        onResponse: async () => undefined,
      });
      const before = Date.now();
      expect(await client.beatOnce()).toBe(true);
      const sentAtMs = Date.parse(received[0]!.sentAt);
      expect(sentAtMs).toBeGreaterThanOrEqual(before + skewMs);
      expect(sentAtMs).toBeLessThanOrEqual(Date.now() + skewMs);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
