import type { Readable } from 'node:stream';
import { isServiceError } from '../errors/index.ts';
import type { ApiRequest, ApiResponse } from '../http/types.ts';
import type { Logger } from '../logging/index.ts';
import type { HlsService } from './hls-service.ts';

/** A plain HTTP route (the api/ router's Route shape, restated so hls/ does not import api/). */
export interface HlsRoute {
  method: 'GET' | 'OPTIONS';
  path: string;
  service: string;
  handler: (request: ApiRequest) => Promise<ApiResponse>;
}

/** HTTP statuses of the errors HLS resources answer with (as KVS declares them). */
const STATUS: Record<string, number> = {
  ResourceNotFoundException: 404,
  NotAuthorizedException: 401,
  InvalidArgumentException: 400,
  ClientLimitExceededException: 400,
};

// Token-in-URL resources carry no cookies, so any origin may play them.
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'content-length, content-range, accept-ranges',
};

function error(code: string, message: string): ApiResponse {
  return {
    status: STATUS[code] ?? 400,
    headers: {
      ...CORS,
      'content-type': 'application/json',
      'x-amzn-errortype': code,
      'cache-control': 'no-store',
    },
    body: JSON.stringify({ message }),
  };
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
export function hlsRoutes(options: { hls: HlsService; logger: Logger }): HlsRoute[] {
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
        return { ...error('InternalFailure', 'Internal failure.'), status: 500 };
      }
    };
  const routes: HlsRoute[] = [
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
        if (!/^9\d{20}$/.test(number))
          return error('InvalidArgumentException', 'FragmentNumber is not valid.');
        return media(request, await hls.mediaFragment(token, number), `"${number}"`);
      }),
    },
  ];
  const preflight: HlsRoute[] = routes.map((route) => ({
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
