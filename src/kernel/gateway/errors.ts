// Maps anything a handler throws to the protocol's error body; unexpected errors are logged, never shown.
import { ZodError } from 'zod';
import { AppError, type ErrorBody } from '../../domain/errors.ts';

export interface ErrorLogger {
  error(object: object, message: string): void;
}

/** Formats zod issues as `path: message` lines a client developer can act on. */
export function validationBody(error: ZodError): ErrorBody {
  const issues = error.issues.map((issue) => ({ path: issue.path.join('.') || '(payload)', message: issue.message }));
  return {
    code: 'VALIDATION',
    message: issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '),
    details: { issues },
  };
}

export function toErrorBody(error: unknown, logger: ErrorLogger, context: object = {}): ErrorBody {
  if (error instanceof AppError) return error.toBody();
  if (error instanceof ZodError) return validationBody(error);
  logger.error({ err: error, ...context }, 'unexpected error');
  return { code: 'INTERNAL', message: 'internal error; it has been logged' };
}
