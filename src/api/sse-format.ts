/**
 * One Server-Sent Events message. `data` is JSON on a single line (JSON.stringify never emits
 * raw newlines), so it needs no `data:` continuation lines.
 */
export function formatSseMessage(message: { id?: string; event: string; data: unknown }): string {
  const id = message.id === undefined ? '' : `id: ${message.id}\n`;
  return `${id}event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`;
}

/**
 * The SSE message of a watch event. The store's hub hands every watcher the same frozen event
 * object, so the message is built once per event and shared by all watchers that see it,
 * instead of serializing the whole codespace once per watcher.
 */
const eventMessages = new WeakMap<object, string>();
export function formatWatchEventMessage(event: {
  type: string;
  resourceVersion: number;
  object: unknown;
}): string {
  let message = eventMessages.get(event);
  if (message === undefined) {
    message = formatSseMessage({ id: String(event.resourceVersion), event: event.type, data: event.object });
    eventMessages.set(event, message);
  }
  return message;
}
