import { isServiceError, ServiceError } from '../errors/index.ts';

/** Maps key-service errors to the KMS* names Kinesis uses. */
export function kmsError(error: unknown): unknown {
  if (!isServiceError(error)) return error;
  const mapped: Partial<
    Record<string, 'KMSNotFoundException' | 'KMSDisabledException' | 'KMSInvalidStateException'>
  > = {
    NotFoundException: 'KMSNotFoundException',
    DisabledException: 'KMSDisabledException',
    KMSInvalidStateException: 'KMSInvalidStateException',
  };
  const code = mapped[error.code];
  return code ? new ServiceError(code, error.message, { cause: error }) : error;
}
