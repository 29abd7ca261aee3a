import { describe, expect, it } from 'vitest';
import { LineSplitter, parseBuildLine } from '../../../src/images/build-output.js';

const hash = 'a'.repeat(64);

describe('parseBuildLine', () => {
  it('reads the result line build.sh prints for a cached image', () => {
    expect(parseBuildLine(`codeyard-image: cached codeyard/test-workspace:latest ${hash} 48ms`)).toEqual({
      kind: 'result',
      result: {
        outcome: 'cached',
        reference: 'codeyard/test-workspace:latest',
        contentHash: hash,
        elapsedMs: 48,
      },
    });
  });

  it('reads the result line for a built image', () => {
    const parsed = parseBuildLine(`codeyard-image: built codeyard/workspace:latest ${hash} 22372ms`);
    expect(parsed.kind === 'result' && parsed.result.outcome).toBe('built');
  });

  it('treats every other line, including near misses, as progress', () => {
    for (const line of [
      'progress: debootstrap bookworm cached',
      `codeyard-image: maybe codeyard/workspace:latest ${hash} 1ms`,
      `codeyard-image: built codeyard/workspace:latest ${hash.slice(1)} 1ms`,
      '',
    ]) {
      expect(parseBuildLine(line)).toEqual({ kind: 'progress', message: line });
    }
  });
});

describe('LineSplitter', () => {
  it('joins lines split across chunks and keeps a partial line until it ends', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('prog')).toEqual([]);
    expect(splitter.push('ress: one\nprogress: tw')).toEqual(['progress: one']);
    expect(splitter.push('o\r\n\n')).toEqual(['progress: two', '']);
    expect(splitter.push('tail')).toEqual([]);
    expect(splitter.flush()).toEqual(['tail']);
    expect(splitter.flush()).toEqual([]);
  });
});
