/**
 * The URL a codespace is reached at through its node's proxy (path routing, the local default):
 * `<proxyUrl>/cs/<name>/`. The API adds the access token when a user asks for access.
 */
export function codespaceUrlFor(proxyUrl: string, codespaceName: string): string {
  return `${proxyUrl.replace(/\/+$/, '')}/cs/${codespaceName}/`;
}
