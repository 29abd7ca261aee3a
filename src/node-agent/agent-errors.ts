import type { FastifyError, FastifyInstance } from 'fastify';
import { CodeyardError, httpStatusFor, type ErrorBody, type ErrorCode } from '../model/errors.js';

function fieldOf(error: FastifyError): string | undefined {
  const first = error.validation?.[0];
  if (!first) return undefined;
  const params = first.params as { additionalProperty?: string; missingProperty?: string };
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const leaf = params.additionalProperty ?? params.missingProperty;
  return [path, leaf].filter((p) => p).join('.') || undefined;
}

/** Fastify's own failures (parsing, limits) mapped onto our stable codes. */
const codeByFastifyCode: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
};

/**
 * The one place the agent maps errors to HTTP: every failure answers `{ code, message, field? }`,
 * and nothing internal (stack, paths, Docker messages) leaks for a 500.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let body: ErrorBody;
    if (error instanceof CodeyardError) {
      body = { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) };
    } else if (error.validation) {
      const field = fieldOf(error);
      body = {
        code: 'VALIDATION_FAILED',
        message: `${error.validationContext ?? 'request'}: ${error.message}`,
        ...(field ? { field } : {}),
      };
    } else if (error.code && codeByFastifyCode[error.code]) {
      body = { code: codeByFastifyCode[error.code]!, message: error.message };
    } else if (error instanceof SyntaxError || error.statusCode === 400) {
      body = { code: 'INVALID_JSON', message: 'request body is not valid JSON' };
    } else {
      request.log.error({ err: error }, 'command failed');
      body = {
        code: 'INTERNAL',
        message: 'the node agent failed to carry out the command; it is safe to retry',
      };
    }
    return reply.status(httpStatusFor(body.code)).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      code: 'NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    };
    return reply.status(404).send(body);
  });
}
