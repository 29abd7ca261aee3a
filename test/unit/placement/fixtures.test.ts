import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { Codespace } from '../../../src/model/codespace.js';
import { Heartbeat, NodeRecord } from '../../../src/model/node.js';
import { aCodespace, aHeartbeat, aNode, anObservedContainer } from '../../support/fixtures.js';

// The model's schemas use `date-time`; TypeBox checks formats only once one is registered.
if (!FormatRegistry.Has('date-time'))
  FormatRegistry.Set('date-time', (value) => !Number.isNaN(Date.parse(value)));

describe('test fixtures', () => {
  it('build values that pass the model schemas, with and without overrides', () => {
    expect(Value.Check(Codespace, aCodespace())).toBe(true);
    expect(
      Value.Check(
        Codespace,
        aCodespace({ running: false, phase: 'Running', nodeName: 'n1', resources: { cpu: 2 } }),
      ),
    ).toBe(true);
    expect(
      Value.Check(NodeRecord, aNode({ containers: [anObservedContainer()], capacity: { slots: 5 } })),
    ).toBe(true);
    expect(Value.Check(Heartbeat, aHeartbeat())).toBe(true);
  });

  it('give each built codespace a distinct uid and name', () => {
    const [a, b] = [aCodespace(), aCodespace()];
    expect(a.metadata.uid).not.toBe(b.metadata.uid);
    expect(a.metadata.name).not.toBe(b.metadata.name);
  });

  it('apply overrides', () => {
    const cs = aCodespace({ running: false, resources: { memoryMiB: 512 } });
    expect(cs.spec.running).toBe(false);
    expect(cs.spec.resources).toEqual({ cpu: 1, memoryMiB: 512, diskGiB: 10 });
    expect(aNode({ capacity: { slots: 3 } }).allocatable.slots).toBe(3);
  });
});
