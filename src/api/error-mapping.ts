import { CodeyardError, type ErrorBody, type ErrorCode } from '../model/errors.js';

/** One ajv error as fastify attaches it to a validation failure. */
interface ValidationIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

interface FrameworkError {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: ValidationIssue[];
  validationContext?: string;
}

/** Fastify's own error codes that have a codeyard meaning. */
const frameworkCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_PARAMETER',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_BAD_URL: 'INVALID_PARAMETER',
};

/**
 * Turns anything a handler, a hook or fastify itself threw into the one error body every
 * client sees. Unknown errors become INTERNAL with a generic message: internals never leak.
 */
export function errorBodyFor(error: unknown): ErrorBody {
  if (error instanceof CodeyardError) {
    return { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) };
  }
  const framework = (error ?? {}) as FrameworkError;
  if (Array.isArray(framework.validation) && framework.validation.length > 0) {
    return validationErrorBody(framework.validation[0]!, framework.validationContext);
  }
  const mapped = framework.code ? frameworkCodes[framework.code] : undefined;
  if (mapped) return { code: mapped, message: framework.message ?? mapped };
  // JSON.parse failures (and prototype-poisoning refusals) from the body parser.
  if (
    framework.statusCode === 400 &&
    (error instanceof SyntaxError || /JSON|__proto__|constructor/i.test(framework.message ?? ''))
  ) {
    return {
      code: 'INVALID_JSON',
      message: `request body is not valid JSON: ${framework.message ?? ''}`.trim(),
    };
  }
  if (framework.statusCode === 429) return { code: 'RATE_LIMITED', message: 'too many requests' };
  if (framework.statusCode === 404) return { code: 'NOT_FOUND', message: framework.message ?? 'not found' };
  if (framework.statusCode === 400)
    return { code: 'INVALID_PARAMETER', message: framework.message ?? 'bad request' };
  return { code: 'INTERNAL', message: 'internal error' };
}

/**
 * Body schema failures are 422 VALIDATION_FAILED; a malformed query, path or header is 400
 * INVALID_PARAMETER. `field` is the offending JSON path (`spec.resources.cpu`) or parameter name.
 */
function validationErrorBody(issue: ValidationIssue, context: string | undefined): ErrorBody {
  const segments = (issue.instancePath ?? '')
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = issue.params ?? {};
  let message = issue.message ?? 'is invalid';
  if (issue.keyword === 'required' && typeof params.missingProperty === 'string') {
    segments.push(params.missingProperty);
    message = 'is required';
  } else if (issue.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    segments.push(params.additionalProperty);
    message = 'is not allowed';
  }
  const field = segments.join('.');
  const isBody = context === undefined || context === 'body';
  const code: ErrorCode = isBody ? 'VALIDATION_FAILED' : 'INVALID_PARAMETER';
  const where = field === '' ? (isBody ? 'body' : (context ?? 'request')) : field;
  return { code, message: `${where} ${message}`, ...(field ? { field } : {}) };
}
