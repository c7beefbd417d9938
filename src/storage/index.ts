// Object storage: the ObjectStore port (key rules, errors) and its adapters, FilesystemObjectStore for a
// local directory and S3ObjectStore for S3-compatible services.
// May import only node builtins and minio; nothing else in src/ may reach past this index.
export { FilesystemObjectStore, type FilesystemObjectStoreOptions } from './filesystem-object-store.ts';
export {
  DEFAULT_CONTENT_TYPE,
  InvalidObjectKeyError,
  InvalidObjectRequestError,
  type ListOptions,
  type ListPage,
  MAX_LIST_KEYS,
  MAX_METADATA_BYTES,
  MAX_OBJECT_KEY_BYTES,
  type ObjectInfo,
  ObjectNotFoundError,
  ObjectRangeNotSatisfiableError,
  type ObjectStore,
  ObjectStoreError,
  type ObjectSummary,
  type PutOptions,
  validateObjectKey,
} from './object-store.ts';
export { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.ts';
