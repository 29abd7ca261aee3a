/**
 * The URL a user opens to reach a codespace through its node's proxy, carrying a one-time
 * access token the proxy trades for its own cookie.
 *
 * - `path`: `<proxyUrl>/cs/<name>/?codeyard_token=…` — works with every client and resolver.
 * - `subdomain`: `<scheme>://<name>.<proxy host>:<port>/?codeyard_token=…` — each codespace gets
 *   its own browser origin (cookies and storage are not shared between codespaces), but the
 *   proxy host needs wildcard DNS. `*.localhost` resolves to loopback in Chromium, yet not in
 *   every client (curl, some resolvers), which is why `path` is the local default.
 */
export function accessUrlFor(options: {
  proxyUrl: string;
  codespaceName: string;
  token: string;
  routingMode: 'path' | 'subdomain';
}): string {
  const proxy = new URL(options.proxyUrl);
  const query = `?codeyard_token=${encodeURIComponent(options.token)}`;
  if (options.routingMode === 'subdomain') {
    const port = proxy.port ? `:${proxy.port}` : '';
    return `${proxy.protocol}//${options.codespaceName}.${proxy.hostname}${port}/${query}`;
  }
  const base = proxy.href.replace(/\/+$/, '');
  return `${base}/cs/${options.codespaceName}/${query}`;
}
