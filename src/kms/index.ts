// KMS: an AWS KMS-compatible key service (keys, versions, aliases, tags, rotation, scheduled deletion
// = crypto-shredding) over Redis, with key material wrapped under a root key. Implements crypto/'s
// KeyProvider port. Imports crypto/, errors/, logging/ and redis/ of ours; the API lives in api/kms/.
export { BLOB_HEADER_BYTES } from './ciphertext-blob.ts';
export { KeyMaintenance } from './key-maintenance.ts';
export type { AliasRecord, KeyManager, KeyRecord, KeyState } from './key-record.ts';
export { type Clock, KeyService, type KeyServiceOptions } from './key-service.ts';
export { ROOT_KEY_FILE, RootKeyError } from './root-key.ts';
