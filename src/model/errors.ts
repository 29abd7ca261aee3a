/**
 * Typed errors with stable codes. Each server maps them to HTTP in one place
 * (see `httpStatusFor`), so a code means the same thing everywhere.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'INVALID_JSON'
  | 'INVALID_PARAMETER'
  | 'BODY_TOO_LARGE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'CODESPACE_NOT_FOUND'
  | 'NODE_NOT_FOUND'
  | 'CODESPACE_EXISTS'
  | 'CONFLICT'
  | 'CODESPACE_NOT_RUNNING'
  | 'STALE_EPOCH'
  | 'STALE_GENERATION'
  | 'QUOTA_EXCEEDED'
  | 'NODE_FULL'
  | 'RATE_LIMITED'
  | 'RESOURCE_VERSION_TOO_OLD'
  | 'STORE_UNAVAILABLE'
  | 'NOT_LEADER'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_FOUND'
  | 'IMAGE_BUILD_FAILED'
  | 'FLEET_UNAVAILABLE'
  | 'INTERNAL';

export class CodeyardError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  constructor(code: ErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CodeyardError';
    this.code = code;
    this.field = options.field;
  }
}

const statusByCode: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 422,
  INVALID_JSON: 400,
  /** A malformed query or path parameter (body schema failures are VALIDATION_FAILED). */
  INVALID_PARAMETER: 400,
  BODY_TOO_LARGE: 413,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CODESPACE_NOT_FOUND: 404,
  NODE_NOT_FOUND: 404,
  NOT_FOUND: 404,
  CODESPACE_EXISTS: 409,
  CONFLICT: 409,
  CODESPACE_NOT_RUNNING: 409,
  STALE_EPOCH: 409,
  STALE_GENERATION: 409,
  QUOTA_EXCEEDED: 422,
  NODE_FULL: 507,
  RATE_LIMITED: 429,
  RESOURCE_VERSION_TOO_OLD: 410,
  STORE_UNAVAILABLE: 503,
  NOT_LEADER: 503,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IMAGE_BUILD_FAILED: 500,
  /** The fleet provider (Auto Scaling API, local processes) failed after its retries. */
  FLEET_UNAVAILABLE: 503,
  INTERNAL: 500,
};

export function httpStatusFor(code: ErrorCode): number {
  return statusByCode[code];
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  field?: string;
}
