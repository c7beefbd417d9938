/** How an error is presented on the wire: HTTP status, fault side and whether a client may retry. */
interface ErrorSpec {
  status: number;
  fault: 'client' | 'server';
  retryable: boolean;
}

const client = (status: number, retryable = false): ErrorSpec => ({ status, fault: 'client', retryable });
const server = (status: number): ErrorSpec => ({ status, fault: 'server', retryable: true });

/**
 * Every error a client can see, keyed by the exact AWS exception name (the JSON `__type`).
 * Protocol-level names first; service modules add theirs here, never elsewhere.
 */
export const errorCatalog = {
  // Protocol (every AWS JSON service)
  SerializationException: client(400),
  UnknownOperationException: client(400),
  RequestEntityTooLargeException: client(413),
  RequestTimeoutException: client(408, true),
  AccessDeniedException: client(403),
  /** No route for a non-AWS path (a plain 404, named for clients that read `__type`). */
  RouteNotFoundException: client(404),
  // SigV4 authentication
  MissingAuthenticationTokenException: client(403),
  IncompleteSignatureException: client(400),
  InvalidSignatureException: client(403),
  UnrecognizedClientException: client(403),
  // Generic service errors
  ValidationException: client(400),
  InvalidArgumentException: client(400),
  ResourceNotFoundException: client(400),
  ResourceInUseException: client(400),
  LimitExceededException: client(400, true),
  ServiceUnavailableException: server(503),
  // Kinesis Data Streams
  ExpiredIteratorException: client(400),
  ExpiredNextTokenException: client(400),
  ProvisionedThroughputExceededException: client(400, true),
  KMSNotFoundException: client(400),
  KMSDisabledException: client(400),
  KMSAccessDeniedException: client(400),
  InternalFailure: server(500),
  // KMS (TrentService)
  NotFoundException: client(400),
  AlreadyExistsException: client(400),
  DisabledException: client(400),
  KMSInvalidStateException: client(400),
  InvalidCiphertextException: client(400),
  IncorrectKeyException: client(400),
  InvalidMarkerException: client(400),
  InvalidAliasNameException: client(400),
  UnsupportedOperationException: client(400),
  TagException: client(400),
  KMSInternalException: server(500),
  DryRunOperationException: client(412),
  // Kinesis Video Streams (REST-JSON; the SDKs identify errors by x-amzn-ErrorType, not by status)
  VersionMismatchException: client(400),
  TagsPerResourceExceededLimitException: client(400),
  AccountStreamLimitExceededException: client(400),
  InvalidDeviceException: client(400),
  ClientLimitExceededException: client(400, true),
  NotAuthorizedException: client(401),
  /** GetClip, GetImages (and HLS) on a stream with DataRetentionInHours 0: nothing is archived. */
  NoDataRetentionException: client(400),
  // Firehose (Firehose_20150804)
  ConcurrentModificationException: client(400),
  InvalidKMSResourceException: client(400),
  InvalidSourceException: client(400),
} as const satisfies Record<string, ErrorSpec>;

/** Name of a catalogued error. */
export type ErrorName = keyof typeof errorCatalog;

/** A client-visible error: thrown anywhere below api/, serialized by the protocol in use. */
export class ServiceError extends Error {
  readonly code: ErrorName;
  readonly status: number;
  readonly fault: 'client' | 'server';
  readonly retryable: boolean;

  constructor(code: ErrorName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = code;
    this.code = code;
    const spec: ErrorSpec = errorCatalog[code];
    this.status = spec.status;
    this.fault = spec.fault;
    this.retryable = spec.retryable;
  }
}

/** Type guard for catalogued errors. */
export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof ServiceError;
}
