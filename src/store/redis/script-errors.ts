import { CodeyardError } from '../../model/errors.js';

/** The negative codes the Lua scripts return; see each script's header. */
export const scriptResult = {
  codespaceNotFound: -1,
  codespaceExists: -2,
  conflict: -3,
  quotaExceeded: -4,
  staleEpoch: -5,
  notMarkedForDeletion: -6,
  ownerChanged: -7,
  nodeNotFound: -8,
  nodeInAnotherFleet: -9,
} as const;

/** What the failing call was about, for a message that names the resource. */
export interface ScriptErrorContext {
  name: string;
  owner?: string;
  expectedResourceVersion?: string;
  leaderEpoch?: number;
  maxPerOwner?: number;
}

/** Maps a script's negative return code to its typed error: the one place that does so. */
export function errorForScriptResult(code: number, context: ScriptErrorContext): CodeyardError {
  switch (code) {
    case scriptResult.codespaceNotFound:
      return new CodeyardError('CODESPACE_NOT_FOUND', `codespace ${context.name} not found`);
    case scriptResult.codespaceExists:
      return new CodeyardError('CODESPACE_EXISTS', `codespace ${context.name} already exists`, {
        field: 'metadata.name',
      });
    case scriptResult.conflict:
      return new CodeyardError(
        'CONFLICT',
        `codespace ${context.name} is no longer at resourceVersion ${context.expectedResourceVersion ?? '?'}`,
        { field: 'metadata.resourceVersion' },
      );
    case scriptResult.quotaExceeded:
      return new CodeyardError(
        'QUOTA_EXCEEDED',
        `owner ${context.owner ?? '?'} already has ${context.maxPerOwner ?? '?'} codespaces`,
      );
    case scriptResult.staleEpoch:
      return new CodeyardError(
        'STALE_EPOCH',
        `leader epoch ${context.leaderEpoch ?? '?'} is not the current epoch: this replica was deposed`,
      );
    case scriptResult.notMarkedForDeletion:
      return new CodeyardError('CONFLICT', `codespace ${context.name} has no deletionTimestamp`);
    case scriptResult.ownerChanged:
      return new CodeyardError('VALIDATION_FAILED', 'the owner of a codespace cannot change', {
        field: 'metadata.owner',
      });
    case scriptResult.nodeNotFound:
      return new CodeyardError('NODE_NOT_FOUND', `node ${context.name} not found`);
    case scriptResult.nodeInAnotherFleet:
      return new CodeyardError('FORBIDDEN', `node "${context.name}" belongs to another fleet`, {
        field: 'nodeName',
      });
    default:
      return new CodeyardError('INTERNAL', `unexpected script result ${code} for ${context.name}`);
  }
}
