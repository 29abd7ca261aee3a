import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PortPool } from '../../../src/node-agent/port-pool.js';

const range = { start: 42_000, end: 42_007 };
const uids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];

interface Model {
  held: Map<string, number>;
}

function checkInvariants(model: Model, pool: PortPool): void {
  // No duplicate: every held port belongs to exactly one uid, inside the range.
  const ports = [...pool.held().values()];
  expect(new Set(ports).size).toBe(ports.length);
  for (const port of ports) expect(pool.contains(port)).toBe(true);
  // No leak: held + free = the whole range, and the pool agrees with the model.
  expect(pool.heldCount + pool.freePorts().length).toBe(pool.size);
  expect(new Map(pool.held())).toEqual(model.held);
}

class Allocate implements fc.Command<Model, PortPool> {
  constructor(
    readonly uid: string,
    readonly preferred: number | undefined,
  ) {}
  check = () => true;
  run(model: Model, pool: PortPool): void {
    const before = model.held.get(this.uid);
    if (before === undefined && model.held.size === pool.size) {
      expect(() => pool.allocate(this.uid, { preferred: this.preferred })).toThrow(/no free host port/);
    } else {
      const port = pool.allocate(this.uid, this.preferred === undefined ? {} : { preferred: this.preferred });
      if (before !== undefined) expect(port).toBe(before);
      const preferredFree =
        this.preferred !== undefined &&
        ![...model.held.values()].includes(this.preferred) &&
        pool.contains(this.preferred);
      if (before === undefined && preferredFree) expect(port).toBe(this.preferred);
      model.held.set(this.uid, port);
    }
    checkInvariants(model, pool);
  }
  toString = () => `allocate(${this.uid}, ${this.preferred})`;
}

class Release implements fc.Command<Model, PortPool> {
  constructor(readonly uid: string) {}
  check = () => true;
  run(model: Model, pool: PortPool): void {
    expect(pool.release(this.uid)).toBe(model.held.get(this.uid));
    model.held.delete(this.uid);
    checkInvariants(model, pool);
  }
  toString = () => `release(${this.uid})`;
}

class Adopt implements fc.Command<Model, PortPool> {
  constructor(
    readonly uid: string,
    readonly port: number,
  ) {}
  check = () => true;
  run(model: Model, pool: PortPool): void {
    const holder = [...model.held].find(([, p]) => p === this.port)?.[0];
    const expected =
      pool.contains(this.port) && (holder === undefined ? !model.held.has(this.uid) : holder === this.uid);
    expect(pool.adopt(this.uid, this.port)).toBe(expected);
    if (expected) model.held.set(this.uid, this.port);
    checkInvariants(model, pool);
  }
  toString = () => `adopt(${this.uid}, ${this.port})`;
}

describe('PortPool', () => {
  it('never hands a port out twice and never leaks one, whatever the sequence of operations', () => {
    const uid = fc.constantFrom(...uids);
    const port = fc.integer({ min: range.start - 2, max: range.end + 2 });
    const commands = fc.commands(
      [
        fc.tuple(uid, fc.option(port, { nil: undefined })).map(([u, p]) => new Allocate(u, p)),
        uid.map((u) => new Release(u)),
        fc.tuple(uid, port).map(([u, p]) => new Adopt(u, p)),
      ],
      { maxCommands: 60 },
    );
    fc.assert(
      fc.property(commands, (cmds) => {
        fc.modelRun(() => ({ model: { held: new Map() }, real: new PortPool(range) }), cmds);
      }),
      { numRuns: 300 },
    );
  });

  it('does not hand a just-released port to the next codespace while others are free', () => {
    const pool = new PortPool(range);
    const first = pool.allocate('a');
    pool.release('a');
    expect(pool.allocate('b')).not.toBe(first);
  });

  it('skips ports the host reported busy', () => {
    const pool = new PortPool({ start: 42_000, end: 42_002 });
    expect(pool.allocate('a', { avoid: new Set([42_000, 42_001]) })).toBe(42_002);
  });

  it('refuses an empty or out-of-bounds range at construction', () => {
    expect(() => new PortPool({ start: 42_010, end: 42_000 })).toThrow(/empty/);
    expect(() => new PortPool({ start: 0, end: 10 })).toThrow(/invalid/);
  });
});
