import type { Readable } from 'node:stream';
import { type ErrorName, isServiceError, ServiceError } from '../../errors/index.ts';
import { type BodyLimits, readBody } from '../../http/read-body.ts';
import type { ApiRequest, ApiResponse, RouteInfo } from '../../http/types.ts';
import type { Logger } from '../../logging/index.ts';
import type { Principal, SigV4Verifier } from '../auth/sigv4-verifier.ts';
import { decodeBody, encodeBody, type WireFormat, wireFormatOf } from './codec.ts';
import { contentTypeOf, errorOf, errorResponse } from './error-response.ts';

/** What an operation handler receives besides its input. */
export interface OperationContext {
  principal: Principal;
  requestId: string;
  format: WireFormat;
  logger: Logger;
  signal: AbortSignal;
  /** The request headers (lower-case names), for operations that answer with URLs (GetDataEndpoint). */
  headers: Readonly<Record<string, string>>;
}

/**
 * What an operation returns instead of an output structure when its response is a stream
 * (SubscribeToShard's `application/vnd.amazon.eventstream`): written as is, after a 200.
 */
export class StreamingOutput {
  readonly contentType: string;
  readonly body: Readable;

  constructor(contentType: string, body: Readable) {
    this.contentType = contentType;
    this.body = body;
  }
}

/** One AWS operation: decoded input in (still unvalidated), output object out (undefined = `{}`). */
export type OperationHandler = (
  input: Record<string, unknown>,
  context: OperationContext,
) => Promise<unknown>;

/** An awsJson1_1 service, addressed by `X-Amz-Target: <targetPrefix>.<Operation>`. */
export interface JsonService {
  /** e.g. `Kinesis_20131202`, `Firehose_20150804`, `TrentService`. */
  targetPrefix: string;
  /** SigV4 scope service, e.g. `kinesis`, `firehose`, `kms`. */
  signingName: string;
  operations: Readonly<Record<string, OperationHandler>>;
}

/** A REST-JSON service addressed by `POST /<lowerCamelOperation>` (Kinesis Video Streams). */
export interface RestJsonService {
  signingName: string;
  /** Path (e.g. `/listFragments`) → handler. */
  operations: Readonly<Record<string, OperationHandler>>;
  /**
   * HTTP statuses this service's model gives some errors where they differ from the catalog (KVS
   * declares ResourceNotFoundException as 404; Kinesis Data Streams uses 400 for the same name).
   */
  errorStatus?: Readonly<Partial<Record<ErrorName, number>>>;
}

/** Signing names the gateway answers for; a scope naming anything else is rejected. */
const KNOWN_SIGNING_NAMES = ['kinesis', 'firehose', 'kinesisvideo', 'kms'] as const;

/**
 * The AWS protocol core, independent of HTTP version and express: reads the body within limits,
 * verifies SigV4, dispatches awsJson (JSON or CBOR) by X-Amz-Target and REST-JSON by path, and
 * serializes every error in one place.
 */
export class AwsProtocol {
  readonly #jsonServices = new Map<string, JsonService>();
  readonly #restOperations = new Map<string, { service: RestJsonService; handler: OperationHandler }>();
  readonly #verifier: SigV4Verifier;
  readonly #limits: BodyLimits;
  readonly #logger: Logger;

  constructor(options: { verifier: SigV4Verifier; limits: BodyLimits; logger: Logger }) {
    this.#verifier = options.verifier;
    this.#limits = options.limits;
    this.#logger = options.logger;
  }

  /** Adds an awsJson service; its target prefix must be unique. */
  registerJsonService(service: JsonService): void {
    if (this.#jsonServices.has(service.targetPrefix))
      throw new Error(`duplicate target prefix ${service.targetPrefix}`);
    this.#jsonServices.set(service.targetPrefix, service);
  }

  /** Adds a REST-JSON service; each path must be unique. */
  registerRestJsonService(service: RestJsonService): void {
    for (const [path, handler] of Object.entries(service.operations)) {
      if (this.#restOperations.has(path)) throw new Error(`duplicate REST-JSON path ${path}`);
      this.#restOperations.set(path, { service, handler });
    }
  }

  /** True when this request is addressed to the AWS APIs (so the router hands it here). */
  accepts(request: ApiRequest): boolean {
    return (
      request.headers['x-amz-target'] !== undefined ||
      request.path === '/' ||
      this.#restOperations.has(request.path)
    );
  }

  /** Handles one AWS API call; `info` is filled in for metrics. Never rejects. */
  async handle(request: ApiRequest, info: RouteInfo): Promise<ApiResponse> {
    const rest = this.#restOperations.get(request.path);
    let format: WireFormat = rest ? 'json' : (wireFormatOf(request.headers['content-type']) ?? 'json');
    try {
      if (request.method !== 'POST') {
        return errorOf(
          'AccessDeniedException',
          'Unable to determine service/operation name to be authorized',
          format,
        );
      }
      let service: { signingName: string } | undefined;
      let handler: OperationHandler | undefined;
      let operation = '';
      if (rest) {
        service = rest.service;
        handler = rest.handler;
        operation = request.path.slice(1);
        info.service = rest.service.signingName;
      } else {
        const target = request.headers['x-amz-target'] ?? '';
        const dot = target.lastIndexOf('.');
        const jsonService = dot > 0 ? this.#jsonServices.get(target.slice(0, dot)) : undefined;
        operation = dot > 0 ? target.slice(dot + 1) : target;
        service = jsonService;
        handler = jsonService?.operations[operation];
        info.service = jsonService?.signingName ?? 'unknown';
        const declared = wireFormatOf(request.headers['content-type']);
        if (declared === undefined) {
          throw new ServiceError(
            'UnknownOperationException',
            `Content-Type must be application/x-amz-json-1.1 or application/x-amz-cbor-1.1.`,
          );
        }
        format = declared;
      }
      info.operation = operation || 'unknown';

      const body = await readBody(request.body, request.headers['content-length'], this.#limits);
      const principal = await this.#verifier.verify(
        { method: request.method, path: request.path, query: request.query, headers: request.headers, body },
        service ? [service.signingName] : KNOWN_SIGNING_NAMES,
      );
      const input = decodeBody(format, body);
      if (handler === undefined) {
        throw new ServiceError(
          'UnknownOperationException',
          operation
            ? `The operation ${operation} is not supported by this endpoint.`
            : 'Missing X-Amz-Target header.',
        );
      }
      const output = await handler(input, {
        principal,
        requestId: request.requestId,
        format,
        logger: this.#logger.child({ requestId: request.requestId, operation }),
        signal: request.signal,
        headers: request.headers,
      });
      if (output instanceof StreamingOutput) {
        return { status: 200, headers: { 'content-type': output.contentType }, body: output.body };
      }
      return {
        status: 200,
        headers: { 'content-type': contentTypeOf(format) },
        body: encodeBody(format, output ?? {}),
      };
    } catch (error) {
      if (isServiceError(error)) {
        const response = errorResponse(error, format);
        const status = rest?.service.errorStatus?.[error.code];
        return status === undefined ? response : { ...response, status };
      }
      this.#logger.error({ err: error, requestId: request.requestId, ...info }, 'internal failure');
      return errorOf(
        'InternalFailure',
        'An internal error occurred; see the gateway log for the request id.',
        format,
      );
    }
  }
}
