import type { Readable } from 'node:stream';
import { type ErrorName, isServiceError, ServiceError } from '../../errors/index.ts';
import type { HlsService } from '../../hls/index.ts';
import type { ApiRequest, ApiResponse } from '../../http/types.ts';
import type { Logger } from '../../logging/index.ts';
import { isFragmentNumber } from '../../video-archive/index.ts';
import { errorResponse } from '../aws/error-response.ts';
import { KVS_ERROR_STATUS } from '../kinesis-video/kvs-errors.ts';
import type { Route } from '../router.ts';

// The KVS HLS resources (`/hls/v1/...`) a GetHLSStreamingSessionURL URL leads to: plain GET routes
// authorized by the session token in the URL, rendered by hls/.

// Token-in-URL resources carry no cookies, so any origin may play them.
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'content-length, content-range, accept-ranges',
};

/** An AWS error with KVS's status for it, readable by a page on any origin. */
function error(code: ErrorName, message: string): ApiResponse {
  const response = errorResponse(new ServiceError(code, message));
  const status = KVS_ERROR_STATUS[code] ?? response.status;
  return { ...response, status, headers: { ...response.headers, ...CORS, 'cache-control': 'no-store' } };
}

/** Serves media bytes with single-range support (RFC 9110 §14). */
function media(request: ApiRequest, bytes: Buffer, etag: string): ApiResponse {
  const headers: Record<string, string> = {
    ...CORS,
    'content-type': 'video/mp4',
    'accept-ranges': 'bytes',
    // Fragments never change once archived; the URL carries the session token.
    'cache-control': 'private, max-age=86400, immutable',
    etag,
  };
  const range = request.headers.range;
  if (range === undefined) return { status: 200, headers, body: bytes };
  const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  const size = bytes.length;
  let start: number;
  let end: number;
  if (match === null || (match[1] === '' && match[2] === '')) return { status: 200, headers, body: bytes };
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) {
    return { status: 416, headers: { ...headers, 'content-range': `bytes */${size}` }, body: '' };
  }
  return {
    status: 206,
    headers: { ...headers, 'content-range': `bytes ${start}-${end}/${size}` },
    body: bytes.subarray(start, end + 1),
  };
}

function playlist(body: string): ApiResponse {
  return {
    status: 200,
    headers: { ...CORS, 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-cache' },
    body,
  };
}

/** `/hls/v1/...`: the KVS HLS resources a GetHLSStreamingSessionURL URL leads to. */
export function hlsRoutes(options: { hls: HlsService; logger: Logger }): Route[] {
  const { hls, logger } = options;
  const handle =
    (work: (request: ApiRequest, token: string) => Promise<ApiResponse>) =>
    async (request: ApiRequest): Promise<ApiResponse> => {
      (request.body as Readable).resume();
      const token = request.query.get('SessionToken');
      if (token === null || token === '')
        return error('InvalidArgumentException', 'SessionToken is required.');
      try {
        return await work(request, token);
      } catch (caught) {
        if (isServiceError(caught)) return error(caught.code, caught.message);
        logger.error({ err: caught, path: request.path }, 'HLS request failed');
        return error('InternalFailure', 'Internal failure.');
      }
    };
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/hls/v1/getHLSMasterPlaylist.m3u8',
      service: 'hls',
      handler: handle(async (_request, token) => playlist(await hls.masterPlaylist(token))),
    },
    {
      method: 'GET',
      path: '/hls/v1/getHLSMediaPlaylist.m3u8',
      service: 'hls',
      handler: handle(async (request, token) => {
        const raw = request.query.get('_HLS_msn');
        const msn = raw === null ? undefined : Number(raw);
        if (msn !== undefined && (!Number.isSafeInteger(msn) || msn < 0)) {
          return error('InvalidArgumentException', '_HLS_msn must be a non-negative integer.');
        }
        return playlist(await hls.mediaPlaylist(token, msn, request.signal));
      }),
    },
    {
      method: 'GET',
      path: '/hls/v1/getMP4InitFragment.mp4',
      service: 'hls',
      handler: handle(async (request, token) => {
        const version = request.query.get('InitVersion') ?? '';
        return media(request, await hls.initFragment(token, version), `"init-${version}"`);
      }),
    },
    {
      method: 'GET',
      path: '/hls/v1/getMP4MediaFragment.mp4',
      service: 'hls',
      handler: handle(async (request, token) => {
        const number = request.query.get('FragmentNumber') ?? '';
        if (!isFragmentNumber(number))
          return error('InvalidArgumentException', 'FragmentNumber is not valid.');
        return media(request, await hls.mediaFragment(token, number), `"${number}"`);
      }),
    },
  ];
  const preflight: Route[] = routes.map((route) => ({
    method: 'OPTIONS',
    path: route.path,
    service: 'hls',
    handler: async () => ({
      status: 204,
      headers: {
        ...CORS,
        'access-control-allow-methods': 'GET, HEAD, OPTIONS',
        'access-control-allow-headers': 'range',
        'access-control-max-age': '86400',
      },
      body: '',
    }),
  }));
  return [...routes, ...preflight];
}
