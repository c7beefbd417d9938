import { z } from 'zod';
import { ServiceError } from '../../errors/index.ts';
import { HLS_LIMITS, type HlsService } from '../../hls/index.ts';
import type { OperationHandler, RestJsonService } from '../aws/aws-protocol.ts';
import { int, oneOf } from '../aws/validation.ts';
import { baseUrlOf, parse } from './kinesis-video-api.ts';
import { KVS_ERROR_STATUS } from './kvs-errors.ts';
import { streamRef, timestamp } from './kvs-shapes.ts';

// GetHLSStreamingSessionURL (archived media, REST-JSON, SigV4 scope `kinesisvideo`): validates the
// request at the edge and returns `<endpoint>/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=...`.

const input = z.object({
  ...streamRef,
  PlaybackMode: oneOf(['LIVE', 'LIVE_REPLAY', 'ON_DEMAND']).optional(),
  HLSFragmentSelector: z
    .object({
      FragmentSelectorType: oneOf(['PRODUCER_TIMESTAMP', 'SERVER_TIMESTAMP']).optional(),
      TimestampRange: z
        .object({ StartTimestamp: timestamp.optional(), EndTimestamp: timestamp.optional() })
        .optional(),
    })
    .optional(),
  ContainerFormat: oneOf(['FRAGMENTED_MP4', 'MPEG_TS']).optional(),
  DiscontinuityMode: oneOf(['ALWAYS', 'NEVER', 'ON_DISCONTINUITY']).optional(),
  DisplayFragmentTimestamp: oneOf(['ALWAYS', 'NEVER']).optional(),
  Expires: int(HLS_LIMITS.minExpiresS, HLS_LIMITS.maxExpiresS).optional(),
  MaxMediaPlaylistFragmentResults: int(1, HLS_LIMITS.maxFragmentResults).optional(),
});

/** The GetHLSStreamingSessionURL operation. */
export function hlsSessionApi(options: {
  hls: HlsService;
  /** STREAMGATE_PUBLIC_URL, else derived from the request. */
  publicUrl: string | undefined;
  tls: boolean;
}): RestJsonService {
  const operations: Record<string, OperationHandler> = {
    '/getHLSStreamingSessionURL': async (raw, context) => {
      const i = parse(input, raw);
      const mode = i.PlaybackMode ?? 'LIVE';
      if (i.ContainerFormat === 'MPEG_TS') {
        throw new ServiceError(
          'InvalidArgumentException',
          'ContainerFormat MPEG_TS is not supported by this gateway; use FRAGMENTED_MP4.',
        );
      }
      const range = i.HLSFragmentSelector?.TimestampRange;
      const startMs = range?.StartTimestamp;
      const endMs = range?.EndTimestamp;
      if (mode === 'ON_DEMAND' && (startMs === undefined || endMs === undefined)) {
        throw new ServiceError(
          'InvalidArgumentException',
          'ON_DEMAND needs a StartTimestamp and an EndTimestamp.',
        );
      }
      if (mode === 'LIVE_REPLAY' && startMs === undefined) {
        throw new ServiceError('InvalidArgumentException', 'LIVE_REPLAY needs a StartTimestamp.');
      }
      if (startMs !== undefined && endMs !== undefined) {
        if (startMs >= endMs) {
          throw new ServiceError('InvalidArgumentException', 'StartTimestamp must be before EndTimestamp.');
        }
        if (mode === 'ON_DEMAND' && endMs - startMs > HLS_LIMITS.maxOnDemandRangeMs) {
          throw new ServiceError('InvalidArgumentException', 'An ON_DEMAND range must not exceed 24 hours.');
        }
      }
      const token = await options.hls.createSession({
        ref: { name: i.StreamName, arn: i.StreamARN },
        mode,
        timestampType: i.HLSFragmentSelector?.FragmentSelectorType ?? 'SERVER_TIMESTAMP',
        startMs: mode === 'LIVE' ? undefined : startMs,
        endMs: mode === 'LIVE' ? undefined : endMs,
        discontinuityMode: i.DiscontinuityMode ?? 'ALWAYS',
        displayTimestamps: i.DisplayFragmentTimestamp === 'ALWAYS',
        expiresS: i.Expires ?? HLS_LIMITS.defaultExpiresS,
        maxFragments: i.MaxMediaPlaylistFragmentResults,
      });
      const base = baseUrlOf(context, options.publicUrl, options.tls);
      return {
        HLSStreamingSessionURL: `${base}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=${encodeURIComponent(token)}`,
      };
    },
  };
  return { signingName: 'kinesisvideo', operations, errorStatus: KVS_ERROR_STATUS };
}
