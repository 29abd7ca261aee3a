import { describe, expect, it } from 'vitest';
import { replyFromResponseHeaders } from '../../../src/node-proxy/reply-from-forwarder.js';

describe('replyFromResponseHeaders', () => {
  it('applies the native header policy to header objects: hop-by-hop and Domain cookies dropped', () => {
    const headers = replyFromResponseHeaders(
      {
        'content-type': 'text/html',
        connection: 'keep-alive, x-private',
        'x-private': '1',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'set-cookie': ['theme=dark; Path=/', 'wide=1; Domain=node.example'],
      },
      undefined,
    );
    expect(headers).toEqual({ 'content-type': 'text/html', 'set-cookie': ['theme=dark; Path=/'] });
  });

  it('adds a refreshed session cookie beside the container’s own cookies', () => {
    const headers = replyFromResponseHeaders(
      { 'set-cookie': ['theme=dark'] },
      'codeyard_session=abc; Path=/; HttpOnly',
    );
    expect(headers['set-cookie']).toEqual(['theme=dark', 'codeyard_session=abc; Path=/; HttpOnly']);
  });
});
