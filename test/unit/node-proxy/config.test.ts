import { describe, expect, it } from 'vitest';
import { CodeyardError } from '../../../src/model/errors.js';
import { loadProxyConfig } from '../../../src/node-proxy/config.js';

describe('loadProxyConfig', () => {
  it('has defaults that work on one machine', () => {
    const config = loadProxyConfig({}, '/srv');
    expect(config).toMatchObject({
      nodeName: 'local-node',
      listenHost: '127.0.0.1',
      routingMode: 'subdomain',
      nodeDomain: 'localhost',
      secureCookies: false,
      jwksUrl: 'http://127.0.0.1:8420/v1/jwks.json',
      dataDir: '/srv/.codeyard/node',
      sessionTtlSeconds: 43_200,
      forwarder: 'raw',
    });
  });

  it('selects the native or reply-from forwarder when asked', () => {
    expect(loadProxyConfig({ CODEYARD_PROXY_FORWARDER: 'reply-from' }).forwarder).toBe('reply-from');
    expect(loadProxyConfig({ CODEYARD_PROXY_FORWARDER: 'native' }).forwarder).toBe('native');
  });

  it('derives the JWKS URL from the orchestrator URL unless one is given', () => {
    expect(loadProxyConfig({ CODEYARD_ORCHESTRATOR_URL: 'https://orch.example/' }).jwksUrl).toBe(
      'https://orch.example/v1/jwks.json',
    );
    expect(
      loadProxyConfig({ CODEYARD_JWKS_URL: 'https://orch.example/v1/fleets/f1/jwks.json' }).jwksUrl,
    ).toBe('https://orch.example/v1/fleets/f1/jwks.json');
  });

  it('turns on secure cookies with TLS files', () => {
    const config = loadProxyConfig({
      CODEYARD_PROXY_TLS_CERT_FILE: '/c.pem',
      CODEYARD_PROXY_TLS_KEY_FILE: '/k.pem',
    });
    expect(config.secureCookies).toBe(true);
  });

  it('refuses invalid values, naming the variable', () => {
    const cases: Record<string, string>[] = [
      { CODEYARD_PROXY_ROUTING_MODE: 'header' },
      { CODEYARD_PROXY_PORT: '70000' },
      { CODEYARD_PROXY_PORT: '80a' },
      { CODEYARD_NODE_DOMAIN: 'bad_domain' },
      { CODEYARD_JWKS_URL: 'ftp://x' },
      { CODEYARD_PROXY_TLS_CERT_FILE: '/c.pem' },
      { CODEYARD_SESSION_TTL_SECONDS: '5' },
      { CODEYARD_PROXY_SECURE_COOKIES: 'yes' },
      { CODEYARD_LOG_LEVEL: 'loud' },
      { CODEYARD_PROXY_FORWARDER: 'undici' },
    ];
    for (const env of cases) {
      const name = Object.keys(env)[0]!;
      let thrown: unknown;
      try {
        loadProxyConfig(env);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, name).toBeInstanceOf(CodeyardError);
      expect((thrown as CodeyardError).field, name).toBe(name);
    }
  });
});
