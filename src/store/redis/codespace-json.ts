import type { Codespace } from '../../model/codespace.js';
import { CodeyardError } from '../../model/errors.js';
import type { WatchEvent, WatchEventType } from '../../model/events.js';

/** Stands in for the resourceVersion the script will assign; no real field can hold it. */
const resourceVersionPlaceholder = '\u0000resourceVersion\u0000';
const placeholderJson = JSON.stringify(resourceVersionPlaceholder);

/**
 * The object's JSON cut where its resourceVersion goes. The write script assigns the version
 * (INCR) and joins `before + "<version>" + after`, so the stored JSON and the event carry the real
 * version without Lua ever re-encoding JSON (cjson would turn `[]` into `{}`).
 */
export function splitAroundResourceVersion(codespace: Codespace): { before: string; after: string } {
  const json = JSON.stringify({
    ...codespace,
    metadata: { ...codespace.metadata, resourceVersion: resourceVersionPlaceholder },
  });
  const parts = json.split(placeholderJson);
  if (parts.length !== 2) {
    throw new CodeyardError('VALIDATION_FAILED', 'a codespace field holds a reserved value', {
      field: 'metadata',
    });
  }
  return { before: parts[0]!, after: parts[1]! };
}

export function parseCodespace(json: string): Codespace {
  return JSON.parse(json) as Codespace;
}

/** A stream entry `[id, [field, value, ...]]` (fields `t`: type, `o`: object JSON) as an event. */
export function eventFromStreamEntry(entry: readonly [string, readonly string[]]): WatchEvent {
  const [id, fields] = entry;
  let type: string | undefined;
  let object: string | undefined;
  for (let index = 0; index + 1 < fields.length; index += 2) {
    if (fields[index] === 't') {
      type = fields[index + 1];
    } else if (fields[index] === 'o') {
      object = fields[index + 1];
    }
  }
  if (object === undefined || (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED')) {
    throw new CodeyardError('INTERNAL', `malformed event stream entry ${id}`);
  }
  return {
    type: type as WatchEventType,
    resourceVersion: resourceVersionOfStreamId(id),
    object: parseCodespace(object),
  };
}

/** Stream ids are `<resourceVersion>-0`. */
export function resourceVersionOfStreamId(id: string): number {
  return Number.parseInt(id, 10);
}

export function streamIdAfter(resourceVersion: number): string {
  return `${resourceVersion + 1}-0`;
}
