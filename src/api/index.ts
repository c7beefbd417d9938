// API edge: the AWS protocol core (awsJson 1.1 + CBOR by X-Amz-Target, REST-JSON by path), SigV4,
// the protocol-neutral router and the ops routes. AWS PascalCase names live only below this folder.
// Imports errors/, logging/, http/ and the service modules' index files (kms/, data-streams/, firehose/) whose APIs it serves.
export { type AccessKeyPair, resolveAccessKeys, secretLookup } from './auth/access-keys.ts';
export { type Principal, type SignableRequest, SigV4Verifier } from './auth/sigv4-verifier.ts';
export {
  AwsProtocol,
  type JsonService,
  type OperationContext,
  type OperationHandler,
  type RestJsonService,
  StreamingOutput,
} from './aws/aws-protocol.ts';
export { decodeBody, encodeBody, type WireFormat, wireFormatOf } from './aws/codec.ts';
export { errorResponse } from './aws/error-response.ts';
export { consoleRoutes } from './console/console-routes.ts';
export { FIREHOSE_LIMITS, firehoseApi } from './firehose/firehose-api.ts';
export { hlsRoutes } from './hls/hls-routes.ts';
export { efoOperations } from './kinesis/efo-api.ts';
export { type KinesisLimits, kinesisApi } from './kinesis/kinesis-api.ts';
export { archivedMediaApi } from './kinesis-video/archived-media-api.ts';
export { hlsSessionApi } from './kinesis-video/hls-session-api.ts';
export { kinesisVideoApi } from './kinesis-video/kinesis-video-api.ts';
export { rtspSourceApi } from './kinesis-video/rtsp-source-api.ts';
export { kmsApi } from './kms/kms-api.ts';
export { opsRoutes, type ReadinessCheck } from './ops/ops-routes.ts';
export { ApiRouter, type Route } from './router.ts';
