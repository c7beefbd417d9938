import { z } from 'zod';
import { ServiceError } from '../../errors/index.ts';
import { parseRtspUrl, RtspUrlError } from '../../ingest/index.ts';
import type { CameraSources, CameraStatus } from '../../video-archive/index.ts';
import type { OperationHandler, RestJsonService } from '../aws/aws-protocol.ts';
import { oneOf, str } from '../aws/validation.ts';
import { parse } from './kinesis-video-api.ts';
import { KVS_ERROR_STATUS } from './kvs-errors.ts';
import { streamRef } from './kvs-shapes.ts';

// Streamgate's own operations for RTSP camera sources (KVS has no API for pulling a camera; its Edge
// Agent reads a Secrets Manager URL instead). Same protocol as the KVS control plane: REST-JSON,
// `POST /<operation>`, SigV4 scope `kinesisvideo`, KVS error names.

const putInput = z.object({
  ...streamRef,
  Url: str(1, 2048),
  Username: str(1, 256).optional(),
  Password: str(1, 256).optional(),
  Transport: oneOf(['TCP', 'UDP']).optional(),
});
const refInput = z.object(streamRef);

function optionalTime(ms: string | undefined): Date | undefined {
  return ms === undefined || ms === '' ? undefined : new Date(Number(ms));
}

/** The Status member: what the pulling gateway last reported, or PENDING before any did. */
function statusOf(status: CameraStatus) {
  if (status.state === undefined) return { State: 'PENDING', Restarts: 0, Fragments: 0 };
  return {
    State: status.state,
    Restarts: Number(status.restarts ?? 0),
    Fragments: Number(status.fragments ?? 0),
    ...(status.lastError ? { LastError: status.lastError } : {}),
    LastFragmentTime: optionalTime(status.lastFragmentMs),
    NextAttemptTime: optionalTime(status.nextAttemptMs),
    UpdatedTime: optionalTime(status.updatedMs),
    GatewayId: status.gateway,
  };
}

/** PutRtspSource, DescribeRtspSource and DeleteRtspSource. */
export function rtspSourceApi(options: { cameras: CameraSources }): RestJsonService {
  const { cameras } = options;
  const refOf = (i: { StreamName?: string | undefined; StreamARN?: string | undefined }) => ({
    name: i.StreamName,
    arn: i.StreamARN,
  });
  const operations: Record<string, OperationHandler> = {
    '/putRtspSource': async (input) => {
      const i = parse(putInput, input);
      let url: ReturnType<typeof parseRtspUrl>;
      try {
        url = parseRtspUrl(i.Url, {
          ...(i.Username === undefined ? {} : { username: i.Username }),
          ...(i.Password === undefined ? {} : { password: i.Password }),
        });
      } catch (error) {
        if (!(error instanceof RtspUrlError)) throw error;
        throw new ServiceError('InvalidArgumentException', `Url: ${error.message}.`);
      }
      const source = await cameras.put(refOf(i), {
        url: url.url,
        redactedUrl: url.redacted,
        transport: i.Transport === 'UDP' ? 'udp' : 'tcp',
      });
      return { StreamARN: source.streamArn, Url: source.redactedUrl, SourceId: source.sourceId };
    },
    '/describeRtspSource': async (input) => {
      const i = parse(refInput, input);
      const { source, status } = await cameras.get(refOf(i));
      return {
        RtspSource: {
          StreamName: source.streamName,
          StreamARN: source.streamArn,
          Url: source.redactedUrl,
          Transport: source.transport.toUpperCase(),
          SourceId: source.sourceId,
          CreationTime: new Date(source.creationTimeMs),
          Status: statusOf(status),
        },
      };
    },
    '/deleteRtspSource': async (input) => {
      const i = parse(refInput, input);
      await cameras.delete(refOf(i));
      return {};
    },
  };
  return { signingName: 'kinesisvideo', operations, errorStatus: KVS_ERROR_STATUS };
}
