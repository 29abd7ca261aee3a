import { apiVersion } from '../model/codespace.js';
import type { ListJsonResult } from '../store/store.js';

const listPrefix = `{"apiVersion":${JSON.stringify(apiVersion)},"kind":"CodespaceList","metadata":`;

/**
 * The `CodespaceList` body of a page whose items are the store's JSON text, written out as they
 * are: the store only holds objects the API validated (and the schema's serializer would emit the
 * same fields), so parsing 10,000 of them just to serialize them again is pure cost.
 */
export function codespaceListJson(page: ListJsonResult): string {
  const metadata = {
    resourceVersion: String(page.resourceVersion),
    ...(page.continueAfter === undefined ? {} : { continue: page.continueAfter }),
  };
  return `${listPrefix}${JSON.stringify(metadata)},"items":[${page.items.join(',')}]}`;
}
