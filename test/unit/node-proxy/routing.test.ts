import { describe, expect, it } from 'vitest';
import { hostnameOf, resolveTarget, takeToken } from '../../../src/node-proxy/routing.js';

const path = { mode: 'path', nodeDomain: 'node-1.example' } as const;
const subdomain = { mode: 'subdomain', nodeDomain: 'node-1.example' } as const;

describe('resolveTarget in path mode', () => {
  it('strips the /cs/{name} prefix and keeps the query', () => {
    expect(resolveTarget(path, 'h', '/cs/alpha/static/a.js?v=1')).toEqual({
      kind: 'codespace',
      name: 'alpha',
      forwardPath: '/static/a.js?v=1',
      publicPrefix: '/cs/alpha',
    });
  });

  it('redirects /cs/{name} without a slash, keeping the query', () => {
    expect(resolveTarget(path, 'h', '/cs/alpha?x=1&y=2')).toEqual({
      kind: 'redirect',
      location: '/cs/alpha/?x=1&y=2',
    });
    expect(resolveTarget(path, 'h', '/cs/alpha')).toEqual({ kind: 'redirect', location: '/cs/alpha/' });
  });

  it('answers not-found for names that are not DNS labels and for other paths', () => {
    expect(resolveTarget(path, 'h', '/cs/Alpha/').kind).toBe('not-found');
    expect(resolveTarget(path, 'h', '/cs/a%2fb/').kind).toBe('not-found');
    expect(resolveTarget(path, 'h', '/other').kind).toBe('not-found');
    expect(resolveTarget(path, 'h', '/healthz').kind).toBe('health');
  });

  it('refuses dot segments, plain or encoded, and non-origin-form targets', () => {
    for (const url of [
      '/cs/a/../b/',
      '/cs/a/%2e%2e/b/',
      '/cs/a/%2E./b',
      '/cs/a/./x',
      '/cs/a/x/..',
      '//127.0.0.1:6379/',
      'http://127.0.0.1:22/',
      '*',
      '/cs/a/x\\..\\y',
    ]) {
      expect(resolveTarget(path, 'h', url).kind, url).toBe('bad-request');
    }
  });

  it('allows dots inside names and in the query', () => {
    expect(resolveTarget(path, 'h', '/cs/a/file.name..txt?x=../y').kind).toBe('codespace');
  });
});

describe('resolveTarget in subdomain mode', () => {
  it('routes {name}.{nodeDomain} with any port, forwarding the whole URL', () => {
    expect(resolveTarget(subdomain, 'Alpha.Node-1.Example:8443', '/x?y')).toEqual({
      kind: 'codespace',
      name: 'alpha',
      forwardPath: '/x?y',
      publicPrefix: '',
    });
  });

  it('answers not-found for deeper names, other domains and look-alike suffixes', () => {
    expect(resolveTarget(subdomain, 'a.b.node-1.example', '/').kind).toBe('not-found');
    expect(resolveTarget(subdomain, 'alpha.evil.example', '/').kind).toBe('not-found');
    expect(resolveTarget(subdomain, 'alphanode-1.example', '/').kind).toBe('not-found');
    expect(resolveTarget(subdomain, 'node-1.example', '/healthz').kind).toBe('health');
  });

  it('refuses a missing or malformed Host', () => {
    expect(resolveTarget(subdomain, undefined, '/').kind).toBe('bad-request');
    expect(resolveTarget(subdomain, 'alpha.node-1.example:80x', '/').kind).toBe('bad-request');
    expect(resolveTarget(subdomain, 'alpha.node-1.example@evil', '/').kind).toBe('bad-request');
  });
});

describe('hostnameOf', () => {
  it('drops the port and lower-cases', () => {
    expect(hostnameOf('A.Example:443')).toBe('a.example');
    expect(hostnameOf('[::1]:8080')).toBe('[::1]');
  });
});

describe('takeToken', () => {
  it('takes the token out and keeps the other parameters', () => {
    expect(takeToken('/cs/a/?x=1&codeyard_token=abc.def.ghi&y=2')).toEqual({
      token: 'abc.def.ghi',
      urlWithoutToken: '/cs/a/?x=1&y=2',
    });
    expect(takeToken('/?codeyard_token=t')).toEqual({ token: 't', urlWithoutToken: '/' });
  });

  it('finds nothing in URLs without a token', () => {
    expect(takeToken('/cs/a/')).toBeUndefined();
    expect(takeToken('/codeyard_token=x')).toBeUndefined();
    expect(takeToken('/?codeyard_token=')).toBeUndefined();
  });
});
