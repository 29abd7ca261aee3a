import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { agentTokenReuseMs, AgentTokenCache } from '../../../src/reconciler/agent-token-cache.js';
import { generateSigningKey, SigningKeyRing } from '../../../src/tokens/signing-keys.js';

async function setup() {
  let nowMs = 1_000_000;
  const ring = new SigningKeyRing([await generateSigningKey(nowMs)]);
  const cache = new AgentTokenCache(ring, () => nowMs);
  return { ring, cache, advance: (ms: number) => (nowMs += ms), now: () => nowMs };
}

describe('AgentTokenCache', () => {
  it('reuses one token per node and epoch while it has at least half its life left', async () => {
    const { cache, advance } = await setup();
    const first = await cache.tokenFor('n1', 3);
    advance(agentTokenReuseMs - 1);
    expect(await cache.tokenFor('n1', 3)).toBe(first);
    advance(1);
    expect(await cache.tokenFor('n1', 3)).not.toBe(first);
  });

  it('signs separately for another node and for another epoch, with that audience and epoch', async () => {
    const { cache } = await setup();
    const n1 = await cache.tokenFor('n1', 3);
    const n2 = await cache.tokenFor('n2', 3);
    const n1Later = await cache.tokenFor('n1', 4);
    expect(new Set([n1, n2, n1Later]).size).toBe(3);
    expect(decodeJwt(n2).aud).toContain('n2');
    expect(decodeJwt(n1Later)).toMatchObject({ epoch: 4 });
  });

  it('signs afresh with the new key after a rotation', async () => {
    const { ring, cache, now } = await setup();
    const before = await cache.tokenFor('n1', 3);
    ring.rotate(await generateSigningKey(now()), { nowMs: now(), retainMs: 60_000 });
    const after = await cache.tokenFor('n1', 3);
    expect(after).not.toBe(before);
  });
});
