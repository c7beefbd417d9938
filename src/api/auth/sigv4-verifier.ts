import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { ServiceError } from '../../errors/index.ts';

/** The parts of a request that SigV4 covers, protocol-neutral (HTTP/2 headers carry `:authority`). */
export interface SignableRequest {
  method: string;
  /** Path without the query, as sent (percent-encoded). */
  path: string;
  query: URLSearchParams;
  /** Lower-case header names; repeated headers joined with `,`. */
  headers: Readonly<Record<string, string>>;
  body: Buffer;
}

/** Who signed a request, and for which scope. */
export interface Principal {
  accessKeyId: string;
  region: string;
  service: string;
}

/** Looks up the secret of an access key id; undefined for unknown keys. */
export type SecretLookup = (accessKeyId: string) => string | undefined;

const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const NO_PARAMS: ReadonlySet<string> = new Set();
/** Query parameters of the presigned form that `presign` sets itself. */
const PRESIGN_PARAMS: ReadonlySet<string> = new Set([
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
]);
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** SHA-256 with Node's crypto, in the shape SignatureV4 expects (`new sha256(secret?)`). */
class Sha256 extends Hash {
  constructor(secret?: Parameters<typeof Hash.prototype.update>[0]) {
    super('sha256', secret as never);
  }
}

/**
 * Verifies AWS Signature Version 4 (header and presigned-query forms). The expected signature is
 * computed by the official @smithy/signature-v4 from exactly the headers the client signed; the
 * comparison is constant-time. Secrets never leave this class.
 */
export class SigV4Verifier {
  readonly #lookup: SecretLookup;
  readonly #now: () => number;
  readonly #maxSkewMs: number;
  readonly #signers = new Map<string, SignatureV4>();

  constructor(options: { lookup: SecretLookup; now?: () => number; maxSkewMs?: number }) {
    this.#lookup = options.lookup;
    this.#now = options.now ?? Date.now;
    this.#maxSkewMs = options.maxSkewMs ?? 5 * 60_000;
  }

  /**
   * Resolves with the principal, or throws the AWS error a real endpoint would:
   * MissingAuthenticationToken / IncompleteSignature / InvalidSignature / UnrecognizedClient.
   * `services` limits the credential scope's service name (e.g. `['kinesis']`).
   */
  async verify(request: SignableRequest, services?: readonly string[]): Promise<Principal> {
    const authorization = request.headers.authorization;
    const queryAlgorithm = request.query.get('X-Amz-Algorithm');
    if (authorization !== undefined && queryAlgorithm !== null) {
      throw new ServiceError(
        'InvalidSignatureException',
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
      );
    }
    if (authorization === undefined && queryAlgorithm === null) {
      throw new ServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    return authorization !== undefined
      ? this.#verifyHeader(request, authorization, services)
      : this.#verifyQuery(request, queryAlgorithm ?? '', services);
  }

  async #verifyHeader(request: SignableRequest, authorization: string, services?: readonly string[]) {
    const { algorithm, params } = parseAuthorization(authorization);
    if (algorithm !== ALGORITHM) {
      throw new ServiceError('IncompleteSignatureException', `Unsupported AWS 'algorithm': '${algorithm}'`);
    }
    const amzDate = request.headers['x-amz-date'];
    const missing: string[] = [];
    for (const name of ['Credential', 'Signature', 'SignedHeaders']) {
      if (!params.has(name)) missing.push(`Authorization header requires '${name}' parameter.`);
    }
    if (amzDate === undefined) {
      missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    }
    if (missing.length > 0) {
      throw new ServiceError(
        'IncompleteSignatureException',
        `${missing.join(' ')} Authorization=${algorithm}`,
      );
    }
    const scope = this.#checkScope(params.get('Credential') ?? '', amzDate ?? '', services);
    const signedHeaders = parseSignedHeaders(params.get('SignedHeaders') ?? '');
    const payloadHash = this.#payloadHash(request);
    const signer = this.#signer(scope.accessKeyId);
    const signed = await signer.sign(
      smithyRequest(
        request,
        queryObject(request.query, NO_PARAMS),
        pickHeaders(request.headers, signedHeaders, payloadHash),
        // An x-amz-content-sha256 header that is sent but not signed (legal outside S3) does not
        // stand for the payload in the canonical request: the body is hashed then.
        payloadHash === undefined || !signedHeaders.has('x-amz-content-sha256') ? request.body : undefined,
      ),
      {
        signingDate: scope.date,
        signingRegion: scope.region,
        signingService: scope.service,
        signableHeaders: signedHeaders,
      },
    );
    const expected = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization ?? '')?.[1] ?? '';
    compareSignatures(expected, params.get('Signature') ?? '');
    return { accessKeyId: scope.accessKeyId, region: scope.region, service: scope.service };
  }

  async #verifyQuery(request: SignableRequest, algorithm: string, services?: readonly string[]) {
    if (algorithm !== ALGORITHM) {
      throw new ServiceError('IncompleteSignatureException', `Unsupported AWS 'algorithm': '${algorithm}'`);
    }
    const q = request.query;
    const missing = [
      'X-Amz-Credential',
      'X-Amz-Date',
      'X-Amz-SignedHeaders',
      'X-Amz-Signature',
      'X-Amz-Expires',
    ]
      .filter((name) => q.get(name) === null)
      .map((name) => `AWS query-string parameters must include '${name}'.`);
    if (missing.length > 0) {
      throw new ServiceError(
        'IncompleteSignatureException',
        `${missing.join(' ')} Re-examine the query-string parameters.`,
      );
    }
    const expiresInSeconds = Number(q.get('X-Amz-Expires'));
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > 604_800) {
      throw new ServiceError(
        'IncompleteSignatureException',
        'X-Amz-Expires must be an integer from 1 to 604800.',
      );
    }
    const scope = this.#checkScope(
      q.get('X-Amz-Credential') ?? '',
      q.get('X-Amz-Date') ?? '',
      services,
      expiresInSeconds,
    );
    const signedHeaders = parseSignedHeaders(q.get('X-Amz-SignedHeaders') ?? '');
    const signer = this.#signer(scope.accessKeyId);
    const presigned = await signer.presign(
      smithyRequest(
        request,
        queryObject(q, PRESIGN_PARAMS),
        pickHeaders(request.headers, signedHeaders, undefined),
        request.body.length > 0 ? request.body : undefined,
      ),
      {
        signingDate: scope.date,
        signingRegion: scope.region,
        signingService: scope.service,
        expiresIn: expiresInSeconds,
        signableHeaders: signedHeaders,
      },
    );
    const expected = presigned.query?.['X-Amz-Signature'];
    compareSignatures(typeof expected === 'string' ? expected : '', q.get('X-Amz-Signature') ?? '');
    return { accessKeyId: scope.accessKeyId, region: scope.region, service: scope.service };
  }

  /** Parses `AKID/yyyymmdd/region/service/aws4_request`, checks the key, the date and the clock skew. */
  #checkScope(
    credential: string,
    amzDate: string,
    services: readonly string[] | undefined,
    expiresInSeconds?: number,
  ) {
    const parts = credential.split('/');
    const [accessKeyId, day, region, service, terminator] = parts;
    if (parts.length !== 5 || !accessKeyId || !day || !region || !service || terminator !== 'aws4_request') {
      throw new ServiceError(
        'IncompleteSignatureException',
        `Credential should be scoped to a valid region, service and aws4_request terminator: '${redactCredential(credential)}'.`,
      );
    }
    if (this.#lookup(accessKeyId) === undefined) {
      throw new ServiceError(
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    }
    const date = parseAmzDate(amzDate);
    if (date === undefined) {
      throw new ServiceError(
        'IncompleteSignatureException',
        `Date must be in ISO-8601 'basic format'. Got '${amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601`,
      );
    }
    if (amzDate.slice(0, 8) !== day) {
      throw new ServiceError(
        'InvalidSignatureException',
        `Credential should be scoped to a valid date: the scope date ${day} does not match X-Amz-Date ${amzDate}.`,
      );
    }
    if (services !== undefined && !services.includes(service)) {
      throw new ServiceError(
        'InvalidSignatureException',
        `Credential should be scoped to correct service: '${services[0] ?? ''}'.`,
      );
    }
    const now = this.#now();
    if (expiresInSeconds !== undefined) {
      if (date.getTime() - this.#maxSkewMs > now) {
        throw new ServiceError(
          'InvalidSignatureException',
          `Request is not yet valid: X-Amz-Date ${amzDate} is in the future.`,
        );
      }
      if (date.getTime() + expiresInSeconds * 1000 < now) {
        throw new ServiceError(
          'InvalidSignatureException',
          `Signature expired: ${amzDate} + ${expiresInSeconds} s is earlier than ${formatAmzDate(now)}.`,
        );
      }
    } else if (Math.abs(now - date.getTime()) > this.#maxSkewMs) {
      const relation = date.getTime() < now ? 'earlier' : 'later';
      const bound = date.getTime() < now ? now - this.#maxSkewMs : now + this.#maxSkewMs;
      throw new ServiceError(
        'InvalidSignatureException',
        `Signature expired: ${amzDate} is now ${relation} than ${formatAmzDate(bound)} (${formatAmzDate(now)} ${relation === 'earlier' ? '-' : '+'} 5 min.)`,
      );
    }
    return { accessKeyId, region, service, date };
  }

  /** The client's declared payload hash, checked against the body; undefined when it declared none. */
  #payloadHash(request: SignableRequest): string | undefined {
    const declared = request.headers['x-amz-content-sha256'];
    if (declared === undefined || declared === UNSIGNED_PAYLOAD || declared.startsWith('STREAMING-'))
      return declared;
    const actual = createHash('sha256').update(request.body).digest('hex');
    if (declared !== actual) {
      throw new ServiceError(
        'InvalidSignatureException',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
    return declared;
  }

  #signer(accessKeyId: string): SignatureV4 {
    let signer = this.#signers.get(accessKeyId);
    if (signer === undefined) {
      const lookup = this.#lookup;
      signer = new SignatureV4({
        service: 'execute-api',
        region: 'us-east-1',
        sha256: Sha256,
        applyChecksum: false,
        credentials: async () => ({ accessKeyId, secretAccessKey: lookup(accessKeyId) ?? '' }),
      });
      this.#signers.set(accessKeyId, signer);
    }
    return signer;
  }
}

/** The request as @smithy/signature-v4 sees it (the hostname is not part of the signature). */
function smithyRequest(
  request: SignableRequest,
  query: Record<string, string | string[]>,
  headers: Record<string, string>,
  body: Buffer | undefined,
) {
  return {
    method: request.method,
    protocol: 'http:',
    hostname: 'streamgate',
    path: decodePath(request.path),
    query,
    headers,
    body,
  };
}

/** Splits `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`. */
function parseAuthorization(header: string): { algorithm: string; params: Map<string, string> } {
  const trimmed = header.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  const params = new Map<string, string>();
  if (space >= 0) {
    for (const item of trimmed.slice(space + 1).split(',')) {
      const eq = item.indexOf('=');
      if (eq > 0) params.set(item.slice(0, eq).trim(), item.slice(eq + 1).trim());
    }
  }
  return { algorithm, params };
}

function parseSignedHeaders(list: string): Set<string> {
  const names = list.split(';').map((name) => name.trim().toLowerCase());
  if (!names.includes('host') && !names.includes(':authority')) {
    throw new ServiceError(
      'InvalidSignatureException',
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
  }
  return new Set(names);
}

/** Exactly the signed headers (a missing one signs as empty, so it cannot match). */
function pickHeaders(
  headers: Readonly<Record<string, string>>,
  signed: ReadonlySet<string>,
  payloadHash: string | undefined,
): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of signed) picked[name] = headers[name] ?? '';
  if (payloadHash !== undefined && signed.has('x-amz-content-sha256'))
    picked['x-amz-content-sha256'] = payloadHash;
  return picked;
}

function queryObject(query: URLSearchParams, skip: ReadonlySet<string>): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [key, value] of query) {
    if (skip.has(key)) continue;
    const existing = result[key];
    if (existing === undefined) result[key] = value;
    else result[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return result;
}

function decodePath(path: string): string {
  try {
    return path.split('/').map(decodeURIComponent).join('/');
  } catch {
    throw new ServiceError('InvalidSignatureException', 'The request path is not valid percent-encoding.');
  }
}

function compareSignatures(expected: string, provided: string): void {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(provided, 'utf8');
  if (a.length !== 64 || a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new ServiceError('InvalidSignatureException', SIGNATURE_MISMATCH);
  }
}

/** `20240102T030405Z` → Date, or undefined when malformed. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function formatAmzDate(epochMs: number): string {
  return new Date(epochMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Keeps the scope but hides most of the access key id. */
function redactCredential(credential: string): string {
  const [akid = '', ...rest] = credential.split('/');
  return [akid.length > 4 ? `${akid.slice(0, 4)}…` : akid, ...rest].join('/');
}
