import { describe, expect, it } from 'vitest';
import { loadFaultPointsConfig } from '../../../src/fault-points/config.js';
import { parseFaultPoints } from '../../../src/fault-points/fault-point-spec.js';
import { CodeyardError } from '../../../src/model/errors.js';

describe('parseFaultPoints', () => {
  it('arms nothing for an empty or blank setting', () => {
    expect(parseFaultPoints('')).toEqual([]);
    expect(parseFaultPoints(' , ')).toEqual([]);
  });

  it('reads a bare name as a crash on the first hit', () => {
    expect(parseFaultPoints('after-placement-write')).toEqual([
      { name: 'after-placement-write', hit: 1, action: 'crash' },
    ]);
  });

  it('reads a hit count and an action, several entries at once', () => {
    expect(
      parseFaultPoints('after-port-allocation@2, before-agent-call@3:freeze,after-kv-write:crash'),
    ).toEqual([
      { name: 'after-port-allocation', hit: 2, action: 'crash' },
      { name: 'before-agent-call', hit: 3, action: 'freeze' },
      { name: 'after-kv-write', hit: 1, action: 'crash' },
    ]);
  });

  it.each([
    ['after-placement-wrte', /unknown point/],
    ['after-container-create@0', /hit must be/],
    ['after-container-create@99999999', /hit must be/],
    ['after-container-create:explode', /action must be/],
    ['after-container-create@x', /expected name/],
    ['after-kv-write,after-kv-write@2', /armed twice/],
  ])('refuses %s loudly, naming the entry', (setting, why) => {
    let thrown: unknown;
    try {
      parseFaultPoints(setting);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CodeyardError);
    expect((thrown as CodeyardError).code).toBe('VALIDATION_FAILED');
    expect((thrown as CodeyardError).field).toBe('CODEYARD_FAULT_POINTS');
    expect((thrown as Error).message).toMatch(why);
  });
});

describe('loadFaultPointsConfig', () => {
  it('is inert without the setting', () => {
    expect(loadFaultPointsConfig({})).toEqual({ armed: [], onceDir: undefined });
  });

  it('reads the points and the once-dir from the environment', () => {
    expect(
      loadFaultPointsConfig({
        CODEYARD_FAULT_POINTS: 'before-agent-call',
        CODEYARD_FAULT_POINTS_ONCE_DIR: '/tmp/x',
      }),
    ).toEqual({ armed: [{ name: 'before-agent-call', hit: 1, action: 'crash' }], onceDir: '/tmp/x' });
  });
});
