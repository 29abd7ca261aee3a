import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fleetSecretMatcher } from '../../../src/api/fleet-authentication.js';
import { heartbeatRouteLogLevel } from '../../../src/api/node-routes.js';
import { mayHoldPrototypeKeys } from '../../../src/api/prototype-keys.js';
import { aHeartbeat, anObservedContainer } from '../../support/fixtures.js';

describe('fleetSecretMatcher', () => {
  const match = fleetSecretMatcher({ a: 'secret-of-fleet-a-000', b: 'secret-of-fleet-b-000' });

  it('finds the fleet whose secret matches, and nothing for a near miss, a prefix or nothing', () => {
    expect(match('secret-of-fleet-a-000')).toBe('a');
    expect(match('secret-of-fleet-b-000')).toBe('b');
    expect(match('secret-of-fleet-b-001')).toBeUndefined();
    expect(match('secret-of-fleet-b')).toBeUndefined();
    expect(match('')).toBeUndefined();
  });

  it('matches nothing when no fleet is configured', () => {
    expect(fleetSecretMatcher({})('secret-of-fleet-a-000')).toBeUndefined();
  });
});

describe('mayHoldPrototypeKeys', () => {
  it('passes a realistic heartbeat body (the fast path)', () => {
    const body = JSON.stringify(
      aHeartbeat({ containers: Array.from({ length: 20 }, () => anObservedContainer()) }),
    );
    expect(mayHoldPrototypeKeys(body)).toBe(false);
  });

  it('flags literal and \\u-escaped spellings of both keys', () => {
    for (const text of [
      '{"__proto__":{"admin":true}}',
      '{"a":{"constructor":{"prototype":{"admin":true}}}}',
      '{"\\u005f_proto__":{"admin":true}}',
      '{"\\u005F\\u005F\\u0070\\u0072\\u006F\\u0074\\u006F\\u005F\\u005F":{}}',
      '{"\\u0063onstructor":{"prototype":{}}}',
    ]) {
      expect(mayHoldPrototypeKeys(text), text).toBe(true);
    }
  });

  it('never passes text whose parse holds a __proto__ or constructor key at any depth', () => {
    const hasPrototypeKey = (value: unknown): boolean => {
      if (value === null || typeof value !== 'object') return false;
      for (const key of Object.keys(value)) {
        if (key === '__proto__' || key === 'constructor') return true;
        if (hasPrototypeKey((value as Record<string, unknown>)[key])) return true;
      }
      return false;
    };
    // Keys drawn to include the two words, escaped letter by letter or not.
    const escaped = (word: string) =>
      fc
        .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
        .map((flags) =>
          [...word]
            .map((ch, i) => (flags[i] ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : ch))
            .join(''),
        );
    const key = fc.oneof(fc.string({ maxLength: 12 }), escaped('__proto__'), escaped('constructor'));
    const text = fc.letrec<{ value: string }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant('1'),
        fc.constant('"x"'),
        fc
          .array(fc.tuple(key, tie('value')), { maxLength: 4 })
          .map(
            (entries) =>
              `{${entries.map(([k, v]) => `${JSON.stringify(k).replace(/\\\\u/g, '\\u')}:${v}`).join(',')}}`,
          ),
      ),
    })).value;
    fc.assert(
      fc.property(text, (json) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(json);
        } catch {
          return; // not JSON: the strict parser answers it, whatever this says
        }
        if (!mayHoldPrototypeKeys(json)) expect(hasPrototypeKey(parsed)).toBe(false);
      }),
    );
  });
});

describe('heartbeatRouteLogLevel', () => {
  it('drops the per-beat access lines at info, keeps them at debug and trace, keeps quieter levels', () => {
    expect(heartbeatRouteLogLevel('info')).toBe('warn');
    expect(heartbeatRouteLogLevel('debug')).toBe('debug');
    expect(heartbeatRouteLogLevel('trace')).toBe('trace');
    expect(heartbeatRouteLogLevel('error')).toBe('error');
    expect(heartbeatRouteLogLevel('silent')).toBe('silent');
  });
});
