import type { ErrorName } from '../../errors/index.ts';

/** Statuses the Kinesis Video Streams models declare where they differ from the error catalog. */
export const KVS_ERROR_STATUS: Readonly<Partial<Record<ErrorName, number>>> = {
  ResourceNotFoundException: 404,
  NotAuthorizedException: 401,
};
