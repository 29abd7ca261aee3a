import { randomUUID } from 'node:crypto';
import { newCodespaceFrom } from '../../src/api/codespace-factory.js';
import type { Codespace } from '../../src/model/codespace.js';

export const benchImage = 'codeyard/workspace:latest';

/** A realistic codespace (every default filled in, a repository, a few labels), as the API creates it. */
export function benchCodespace(options: { name: string; owner: string }): Codespace {
  return newCodespaceFrom(
    {
      metadata: { name: options.name, labels: { team: 'bench', tier: 'standard' } },
      spec: {
        repository: { url: 'https://github.com/codeyard/example-repository', ref: 'main' },
        env: { EDITOR: 'code', LANG: 'C.UTF-8' },
      },
    },
    { owner: options.owner, uid: randomUUID(), now: new Date().toISOString(), defaultImage: benchImage },
  );
}

/**
 * The same object carrying the benchmark's markers in labels: `seq` (1-based, per phase: lets
 * every watcher check it got each change once and in order) and `sent` (monotonic µs taken just
 * before the write call: delivery latency). Label values allow digits only here, as the API would.
 */
export function withMarkers(codespace: Codespace, markers: { seq: number; sentMicros: number }): Codespace {
  return {
    ...codespace,
    metadata: {
      ...codespace.metadata,
      labels: { ...codespace.metadata.labels, seq: String(markers.seq), sent: String(markers.sentMicros) },
    },
  };
}
