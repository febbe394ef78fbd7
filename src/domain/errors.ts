// The AppError that carries one of the protocol's error codes, with a cause.
import { ERROR_CODES, type ErrorBody, type ErrorCode } from '../protocol/wire.ts';

// The codes and the error body are the protocol's: defined once there.
export { ERROR_CODES, type ErrorBody, type ErrorCode };

/**
 * An expected failure that maps to one protocol error code. Thrown by services,
 * turned into `{ ok: false, error }` by the gateway; never shown with a stack.
 *
 * @example
 * throw new AppError('NOT_FOUND', `cart ${id} does not exist`);
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options?: { details?: unknown; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options?.details;
  }

  toBody(): ErrorBody {
    return this.details === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, details: this.details };
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
