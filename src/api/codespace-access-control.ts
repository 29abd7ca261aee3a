import type { Codespace } from '../model/codespace.js';
import { CodeyardError } from '../model/errors.js';
import type { Store } from '../store/store.js';
import { canAccess, type Principal } from './principal.js';

/**
 * The codespace `name` if the caller may see it. Another user's codespace answers exactly
 * like a missing one, so names of other people's codespaces cannot be probed through reads.
 */
export async function loadVisibleCodespace(
  store: Store,
  principal: Principal,
  name: string,
): Promise<Codespace> {
  const codespace = await store.getCodespace(name);
  if (!codespace || !canAccess(principal, codespace)) throw notFound(name);
  return codespace;
}

export function notFound(name: string): CodeyardError {
  return new CodeyardError('CODESPACE_NOT_FOUND', `codespace "${name}" not found`);
}
