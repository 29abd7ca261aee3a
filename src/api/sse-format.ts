/**
 * One Server-Sent Events message. `data` is JSON on a single line (JSON.stringify never emits
 * raw newlines), so it needs no `data:` continuation lines.
 */
export function formatSseMessage(message: { id?: string; event: string; data: unknown }): string {
  const id = message.id === undefined ? '' : `id: ${message.id}\n`;
  return `${id}event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`;
}
