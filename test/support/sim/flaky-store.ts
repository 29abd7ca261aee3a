import { CodeyardError } from '../../../src/model/errors.js';
import type { Store } from '../../../src/store/store.js';

/**
 * The store as the orchestrator sees it through a network that can fail: while `down`, every
 * call fails with STORE_UNAVAILABLE and nothing is written (as the Redis store promises).
 */
export function flakyStore(store: Store): { store: Store; setDown(down: boolean): void } {
  let down = false;
  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (down) return Promise.reject(new CodeyardError('STORE_UNAVAILABLE', 'the store is unreachable'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, setDown: (value) => (down = value) };
}
