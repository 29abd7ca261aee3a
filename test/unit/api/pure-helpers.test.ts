import { describe, expect, it } from 'vitest';
import { accessUrlFor } from '../../../src/api/access-url.js';
import { applyUserChange, mergePatchChange, replaceChange } from '../../../src/api/codespace-changes.js';
import { errorBodyFor } from '../../../src/api/error-mapping.js';
import { fleetForSecret } from '../../../src/api/fleet-authentication.js';
import { matchesLabels, parseLabelSelector } from '../../../src/api/label-selector.js';
import { withReadyCondition } from '../../../src/api/node-readiness.js';
import { formatSseMessage } from '../../../src/api/sse-format.js';
import { WatchRegistry } from '../../../src/api/watch-registry.js';
import { CodeyardError } from '../../../src/model/errors.js';
import { aCodespace, aNode } from '../../support/fixtures.js';

describe('errorBodyFor', () => {
  it('keeps a CodeyardError’s code, message and field', () => {
    expect(
      errorBodyFor(new CodeyardError('CONFLICT', 'stale', { field: 'metadata.resourceVersion' })),
    ).toEqual({
      code: 'CONFLICT',
      message: 'stale',
      field: 'metadata.resourceVersion',
    });
  });

  it('names the JSON path of a body validation failure, including missing and unknown properties', () => {
    const wrongType = {
      validation: [
        { instancePath: '/spec/resources/cpu', keyword: 'type', message: 'must be number', params: {} },
      ],
      validationContext: 'body',
    };
    expect(errorBodyFor(wrongType)).toMatchObject({ code: 'VALIDATION_FAILED', field: 'spec.resources.cpu' });
    const missing = {
      validation: [{ instancePath: '/metadata', keyword: 'required', params: { missingProperty: 'name' } }],
      validationContext: 'body',
    };
    expect(errorBodyFor(missing)).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'metadata.name is required',
      field: 'metadata.name',
    });
    const unknown = {
      validation: [
        { instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'status' } },
      ],
      validationContext: 'body',
    };
    expect(errorBodyFor(unknown)).toMatchObject({ field: 'status', message: 'status is not allowed' });
  });

  it('makes query and path validation failures 400 INVALID_PARAMETER', () => {
    const query = {
      validation: [{ instancePath: '/limit', keyword: 'pattern', message: 'must match pattern', params: {} }],
      validationContext: 'querystring',
    };
    expect(errorBodyFor(query)).toMatchObject({ code: 'INVALID_PARAMETER', field: 'limit' });
  });

  it('maps fastify’s own errors and hides unknown ones', () => {
    expect(
      errorBodyFor({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'too large' }).code,
    ).toBe('BODY_TOO_LARGE');
    expect(errorBodyFor({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }).code).toBe(
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(errorBodyFor(Object.assign(new SyntaxError('Unexpected token'), { statusCode: 400 })).code).toBe(
      'INVALID_JSON',
    );
    expect(errorBodyFor(new Error('secret connection string redis://user:pw@host'))).toEqual({
      code: 'INTERNAL',
      message: 'internal error',
    });
  });
});

describe('parseLabelSelector', () => {
  it('parses equality terms, = or ==', () => {
    expect(parseLabelSelector('app=web,team==core')).toEqual({ app: 'web', team: 'core' });
    expect(parseLabelSelector('')).toEqual({});
  });

  it('refuses anything else, naming labelSelector', () => {
    for (const bad of ['app', 'app!=web', 'a b=c', 'app=we b', `${'k'.repeat(70)}=v`]) {
      expect(() => parseLabelSelector(bad)).toThrowError(
        expect.objectContaining({ code: 'INVALID_PARAMETER', field: 'labelSelector' }),
      );
    }
  });

  it('matches when every selected label is equal', () => {
    expect(matchesLabels({ a: '1', b: '2' }, { a: '1' })).toBe(true);
    expect(matchesLabels({ a: '1' }, { a: '1', b: '2' })).toBe(false);
  });
});

describe('accessUrlFor', () => {
  it('builds path and subdomain URLs with the token URL-encoded', () => {
    expect(
      accessUrlFor({
        proxyUrl: 'http://127.0.0.1:8080/',
        codespaceName: 'web',
        token: 'a.b+c',
        routingMode: 'path',
      }),
    ).toBe('http://127.0.0.1:8080/cs/web/?codeyard_token=a.b%2Bc');
    expect(
      accessUrlFor({
        proxyUrl: 'https://node1.example.com',
        codespaceName: 'web',
        token: 't',
        routingMode: 'subdomain',
      }),
    ).toBe('https://web.node1.example.com/?codeyard_token=t');
    expect(
      accessUrlFor({
        proxyUrl: 'http://localhost:9000',
        codespaceName: 'web',
        token: 't',
        routingMode: 'subdomain',
      }),
    ).toBe('http://web.localhost:9000/?codeyard_token=t');
  });
});

describe('user changes', () => {
  it('bumps generation only when the spec changes and never touches status', () => {
    const current = aCodespace({ phase: 'Running', nodeName: 'n1', labels: { a: 'b' } });
    const labelsOnly = applyUserChange(current, { spec: current.spec, labels: { c: 'd' } });
    expect(labelsOnly.metadata.generation).toBe(current.metadata.generation);
    expect(labelsOnly.status).toEqual(current.status);
    const stopped = applyUserChange(current, mergePatchChange(current, { spec: { running: false } }));
    expect(stopped.metadata.generation).toBe(current.metadata.generation + 1);
    expect(stopped.metadata.labels).toEqual({ a: 'b' });
  });

  it('refuses changes to a codespace being deleted', () => {
    const deleting = aCodespace({ deletionTimestamp: '2026-01-01T00:00:00.000Z' });
    expect(() => applyUserChange(deleting, { spec: deleting.spec, labels: {} })).toThrowError(
      expect.objectContaining({ code: 'CONFLICT' }),
    );
  });

  it('refuses a replacement that renames or re-owns the codespace', () => {
    const current = aCodespace({ name: 'mine', owner: 'alice' });
    const body = { metadata: { name: 'mine', resourceVersion: '1', owner: 'bob' }, spec: current.spec };
    expect(() => replaceChange(current, body)).toThrowError(
      expect.objectContaining({ field: 'metadata.owner' }),
    );
    expect(() =>
      replaceChange(current, { ...body, metadata: { name: 'other', resourceVersion: '1' } }),
    ).toThrowError(expect.objectContaining({ field: 'metadata.name' }));
  });
});

describe('withReadyCondition', () => {
  it('is Ready while the last beat is fresh on our clock, NotReady after the limit', () => {
    const node = aNode({ lastHeartbeatReceivedMs: 1_000_000 });
    const fresh = withReadyCondition(node, { nowMs: 1_010_000, notReadyAfterMs: 15_000 });
    expect(fresh.conditions).toEqual([expect.objectContaining({ type: 'Ready', status: 'True' })]);
    const stale = withReadyCondition(node, { nowMs: 1_016_000, notReadyAfterMs: 15_000 });
    expect(stale.conditions).toEqual([
      expect.objectContaining({ type: 'Ready', status: 'False', reason: 'HeartbeatMissed' }),
    ]);
  });
});

describe('fleetForSecret', () => {
  it('finds the fleet whose secret matches, and nothing for a near miss', () => {
    const secrets = { a: 'secret-of-fleet-a-000', b: 'secret-of-fleet-b-000' };
    expect(fleetForSecret('secret-of-fleet-b-000', secrets)).toBe('b');
    expect(fleetForSecret('secret-of-fleet-b-001', secrets)).toBeUndefined();
    expect(fleetForSecret('', secrets)).toBeUndefined();
  });
});

describe('formatSseMessage', () => {
  it('writes id, event and one-line JSON data', () => {
    expect(formatSseMessage({ id: '7', event: 'ADDED', data: { a: 'line\nbreak' } })).toBe(
      'id: 7\nevent: ADDED\ndata: {"a":"line\\nbreak"}\n\n',
    );
  });
});

describe('WatchRegistry', () => {
  it('caps watches per token and frees a slot on release, once', () => {
    const counts: number[] = [];
    const registry = new WatchRegistry({ perTokenMax: 2, onCountChange: (open) => counts.push(open) });
    const first = registry.acquire('t');
    registry.acquire('t');
    expect(() => registry.acquire('t')).toThrowError(expect.objectContaining({ code: 'RATE_LIMITED' }));
    registry.acquire('other');
    first.release();
    first.release();
    expect(first.signal.aborted).toBe(true);
    registry.acquire('t');
    expect(counts).toEqual([1, 2, 3, 2, 3]);
  });
});
