import { randomBytes, randomUUID } from 'node:crypto';
import {
  AuthenticationError,
  type DataKey,
  type EncryptionContext,
  gcmDecrypt,
  gcmEncrypt,
  type KeyProvider,
  newIv,
} from '../crypto/index.ts';
import { ServiceError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import type { RedisClient } from '../redis/index.ts';
import { blobAad, blobHeader, CiphertextBlobError, decodeBlob, encodeBlob } from './ciphertext-blob.ts';
import type { AliasRecord, KeyManager, KeyRecord } from './key-record.ts';
import { KeyStore } from './key-store.ts';
import { resolveRootKey, sealRootCheck, unwrapMaterial, verifyRootCheck, wrapMaterial } from './root-key.ts';

/** Time source; injected so deletion windows and rotation periods can be tested. */
export interface Clock {
  now(): number;
}

const DAY_MS = 86_400_000;
/** Aliases of the AWS-managed style default keys, created on first use. */
const DEFAULT_ALIASES: Readonly<Record<string, string>> = {
  'alias/aws/kinesisvideo':
    'Default key that protects my Kinesis Video Streams data when no other key is defined',
  'alias/aws/kinesis': 'Default key that protects my Kinesis data when no other key is defined',
  'alias/aws/firehose': 'Default key that protects my Firehose data when no other key is defined',
};
const INVALID_CIPHERTEXT =
  'The ciphertext is invalid, was altered, or was encrypted under a different encryption context.';

/** Options of the key service. */
export interface KeyServiceOptions {
  redis: RedisClient;
  region: string;
  accountId: string;
  dataDir: string;
  /** Base64 root key (STREAMGATE_KMS_ROOT_KEY); undefined = the generated file. */
  rootKey: string | undefined;
  clock: Clock;
  logger: Logger;
}

/**
 * An AWS KMS-compatible key service: symmetric keys with rotation, aliases, tags, scheduled deletion
 * (crypto-shredding), and Encrypt/Decrypt/GenerateDataKey over the ciphertext-blob format. Key material
 * lives in Redis wrapped under the root key. Also the in-process KeyProvider of the envelope library.
 */
export class KeyService implements KeyProvider {
  readonly #options: KeyServiceOptions;
  readonly #store: KeyStore;
  readonly #unusableListeners: Array<(keyId: string) => void> = [];
  #rootKey: Buffer | undefined;

  constructor(options: KeyServiceOptions) {
    this.#options = options;
    this.#store = new KeyStore(options.redis);
  }

  /** Loads (or generates) the root key and proves it opens the keys already in Redis. */
  async start(): Promise<void> {
    const check = await this.#store.getRootCheck();
    const root = await resolveRootKey({
      configured: this.#options.rootKey,
      dataDir: this.#options.dataDir,
      hasExistingKeys: check !== null,
    });
    if (check !== null) verifyRootCheck(root.key, check, root.source, root.file);
    else
      verifyRootCheck(
        root.key,
        await this.#store.initRootCheck(sealRootCheck(root.key)),
        root.source,
        root.file,
      );
    this.#rootKey = root.key;
    this.#options.logger.info(
      { source: root.source, file: root.source === 'environment' ? undefined : root.file },
      'KMS root key loaded',
    );
  }

  /** Forgets the root key; idempotent. */
  async stop(): Promise<void> {
    this.#rootKey?.fill(0);
    this.#rootKey = undefined;
  }

  /** Registers a callback for keys that must no longer be used (disabled, pending deletion, destroyed). */
  onKeyUnusable(listener: (keyId: string) => void): void {
    this.#unusableListeners.push(listener);
  }

  /** The ARN of a key id. */
  keyArn(keyId: string): string {
    return `arn:aws:kms:${this.#options.region}:${this.#options.accountId}:key/${keyId}`;
  }

  /** The ARN of an alias name (`alias/...`). */
  aliasArn(aliasName: string): string {
    return `arn:aws:kms:${this.#options.region}:${this.#options.accountId}:${aliasName}`;
  }

  // ---- keys ---------------------------------------------------------------------------------

  /** CreateKey. */
  async createKey(input: {
    description: string;
    tags: Readonly<Record<string, string>>;
    keyManager?: KeyManager;
  }) {
    const keyId = randomUUID();
    const now = this.#now();
    const keyManager = input.keyManager ?? 'CUSTOMER';
    const record: KeyRecord = {
      keyId,
      arn: this.keyArn(keyId),
      description: input.description,
      state: 'Enabled',
      keyManager,
      creationDate: now,
      deletionDate: undefined,
      pendingWindowDays: undefined,
      rotationEnabled: keyManager === 'AWS',
      rotationPeriodDays: keyManager === 'AWS' ? 365 : undefined,
      nextRotationDate: keyManager === 'AWS' ? now + 365 * DAY_MS : undefined,
      onDemandRotationStartDate: undefined,
      currentVersion: 1,
    };
    await this.#store.createKey(record, wrapMaterial(this.#root(), keyId, 1, randomBytes(32)), input.tags);
    return record;
  }

  /** DescribeKey: resolves a key id, key ARN, alias name or alias ARN. */
  describeKey(keyRef: string): Promise<KeyRecord> {
    return this.#resolve(keyRef);
  }

  /** The key behind `keyRef` if it can encrypt now; DisabledException / KMSInvalidStateException / NotFound otherwise. */
  async usableKey(keyRef: string): Promise<KeyRecord> {
    const key = await this.#resolve(keyRef);
    this.#usable(key);
    return key;
  }

  /** ListKeys: key ids in a stable order; `marker` is the last id of the previous page. */
  async listKeys(
    limit: number,
    marker: string | undefined,
  ): Promise<{ keys: KeyRecord['keyId'][]; nextMarker: string | undefined }> {
    const ids = await this.#store.listKeyIds(marker, limit + 1);
    const page = ids.slice(0, limit);
    return { keys: page, nextMarker: ids.length > limit ? page.at(-1) : undefined };
  }

  /** EnableKey. */
  async enableKey(keyRef: string): Promise<void> {
    const key = await this.#resolve(keyRef);
    this.#customerManaged(key, 'EnableKey');
    await this.#transition(key, ['Enabled', 'Disabled'], { state: 'Enabled' });
  }

  /** DisableKey: every crypto operation under the key fails until EnableKey. */
  async disableKey(keyRef: string): Promise<void> {
    const key = await this.#resolve(keyRef);
    this.#customerManaged(key, 'DisableKey');
    await this.#transition(key, ['Enabled', 'Disabled'], { state: 'Disabled' });
    this.#notifyUnusable(key.keyId);
  }

  /** ScheduleKeyDeletion: after `pendingWindowDays` the material is destroyed (crypto-shredding). */
  async scheduleKeyDeletion(keyRef: string, pendingWindowDays: number): Promise<KeyRecord> {
    const key = await this.#resolve(keyRef);
    this.#customerManaged(key, 'ScheduleKeyDeletion');
    const deletionDate = this.#now() + pendingWindowDays * DAY_MS;
    await this.#transition(key, ['Enabled', 'Disabled'], {
      state: 'PendingDeletion',
      deletionDate,
      pendingWindowDays,
    });
    this.#notifyUnusable(key.keyId);
    return { ...key, state: 'PendingDeletion', deletionDate, pendingWindowDays };
  }

  /** CancelKeyDeletion: like AWS, the key comes back Disabled. */
  async cancelKeyDeletion(keyRef: string): Promise<KeyRecord> {
    const key = await this.#resolve(keyRef);
    await this.#transition(key, ['PendingDeletion'], {
      state: 'Disabled',
      deletionDate: undefined,
      pendingWindowDays: undefined,
    });
    return { ...key, state: 'Disabled', deletionDate: undefined, pendingWindowDays: undefined };
  }

  /** Destroys every key whose deletion date has passed; returns their ids. */
  async destroyDueKeys(): Promise<string[]> {
    const destroyed: string[] = [];
    for (const keyId of await this.#store.allKeyIds()) {
      const key = await this.#store.getKey(keyId);
      if (key && (await this.#destroyIfDue(key))) destroyed.push(keyId);
    }
    return destroyed;
  }

  // ---- rotation -----------------------------------------------------------------------------

  /** EnableKeyRotation (period 90–2560 days). */
  async enableKeyRotation(keyRef: string, rotationPeriodDays: number): Promise<void> {
    const key = await this.#resolve(keyRef);
    this.#customerManaged(key, 'EnableKeyRotation');
    await this.#transition(key, ['Enabled'], {
      rotationEnabled: '1',
      rotationPeriodDays,
      nextRotationDate: this.#now() + rotationPeriodDays * DAY_MS,
    });
  }

  /** DisableKeyRotation. */
  async disableKeyRotation(keyRef: string): Promise<void> {
    const key = await this.#resolve(keyRef);
    this.#customerManaged(key, 'DisableKeyRotation');
    await this.#transition(key, ['Enabled'], { rotationEnabled: '0', nextRotationDate: undefined });
  }

  /** RotateKeyOnDemand: a new key version now; older versions stay decryptable. */
  async rotateKeyOnDemand(keyRef: string): Promise<KeyRecord> {
    const key = await this.#resolve(keyRef);
    this.#usable(key);
    return this.#rotate(key, { onDemandRotationStartDate: this.#now() });
  }

  /** Rotates every key whose automatic rotation is due; returns their ids. */
  async rotateDueKeys(): Promise<string[]> {
    const rotated: string[] = [];
    for (const keyId of await this.#store.allKeyIds()) {
      const key = await this.#store.getKey(keyId);
      if (key === undefined || !rotationDue(key, this.#now())) continue;
      await this.#rotate(key, { nextRotationDate: this.#now() + (key.rotationPeriodDays ?? 365) * DAY_MS });
      rotated.push(keyId);
    }
    return rotated;
  }

  async #rotate(key: KeyRecord, fields: Record<string, number>): Promise<KeyRecord> {
    let current = key;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const next = current.currentVersion + 1;
      const wrapped = wrapMaterial(this.#root(), key.keyId, next, randomBytes(32));
      const outcome = await this.#store.rotate(key.keyId, current.currentVersion, wrapped, fields);
      if (outcome === 'ok') return { ...current, currentVersion: next };
      if (outcome !== 'conflict') this.#stateError(current, outcome);
      current = await this.#resolve(key.keyId);
    }
    throw new ServiceError(
      'KMSInternalException',
      `Key ${key.arn} is being rotated concurrently; try again.`,
    );
  }

  // ---- aliases ------------------------------------------------------------------------------

  /** CreateAlias. */
  async createAlias(aliasName: string, targetKeyRef: string): Promise<void> {
    reservedAlias(aliasName);
    const key = await this.#resolveTarget(targetKeyRef);
    const now = this.#now();
    if (
      !(await this.#store.createAlias({
        aliasName,
        targetKeyId: key.keyId,
        creationDate: now,
        lastUpdatedDate: now,
      }))
    ) {
      throw new ServiceError(
        'AlreadyExistsException',
        `An alias with the name ${this.aliasArn(aliasName)} already exists`,
      );
    }
  }

  /** UpdateAlias. */
  async updateAlias(aliasName: string, targetKeyRef: string): Promise<void> {
    reservedAlias(aliasName);
    const existing = await this.#store.getAlias(aliasName);
    if (!existing)
      throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(aliasName)} is not found.`);
    const key = await this.#resolveTarget(targetKeyRef);
    const updated: AliasRecord = { ...existing, targetKeyId: key.keyId, lastUpdatedDate: this.#now() };
    if (!(await this.#store.updateAlias(updated))) {
      throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(aliasName)} is not found.`);
    }
  }

  /** DeleteAlias. */
  async deleteAlias(aliasName: string): Promise<void> {
    reservedAlias(aliasName);
    if (!(await this.#store.deleteAlias(aliasName))) {
      throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(aliasName)} is not found.`);
    }
  }

  /** ListAliases, optionally for one key; `marker` is the last alias name of the previous page. */
  async listAliases(keyRef: string | undefined, limit: number, marker: string | undefined) {
    const keyId = keyRef === undefined ? undefined : (await this.#resolve(keyRef)).keyId;
    const all = (await this.#store.listAliases()).filter(
      (a) =>
        (keyId === undefined || a.targetKeyId === keyId) && (marker === undefined || a.aliasName > marker),
    );
    const page = all.slice(0, limit);
    return { aliases: page, nextMarker: all.length > limit ? page.at(-1)?.aliasName : undefined };
  }

  // ---- tags ---------------------------------------------------------------------------------

  /** TagResource (at most 50 tags per key). */
  async tagResource(keyRef: string, tags: Readonly<Record<string, string>>): Promise<void> {
    const key = await this.#resolveTarget(keyRef);
    const existing = await this.#store.getTags(key.keyId);
    if (Object.keys({ ...existing, ...tags }).length > 50) {
      throw new ServiceError('TagException', `Key ${key.arn} would have more than 50 tags.`);
    }
    await this.#store.putTags(key.keyId, tags);
  }

  /** UntagResource. */
  async untagResource(keyRef: string, tagKeys: readonly string[]): Promise<void> {
    await this.#store.removeTags((await this.#resolveTarget(keyRef)).keyId, tagKeys);
  }

  /** ListResourceTags, sorted by tag key. */
  async listResourceTags(keyRef: string): Promise<Array<{ tagKey: string; tagValue: string }>> {
    const tags = await this.#store.getTags((await this.#resolveTarget(keyRef)).keyId);
    return Object.keys(tags)
      .sort()
      .map((tagKey) => ({ tagKey, tagValue: tags[tagKey] ?? '' }));
  }

  // ---- cryptographic operations -------------------------------------------------------------

  /** Encrypt: `plaintext` under the key's current version, bound to `context`. */
  async encrypt(keyRef: string, plaintext: Buffer, context: EncryptionContext | undefined) {
    const key = await this.#resolve(keyRef);
    this.#usable(key);
    const material = await this.#material(key, key.currentVersion);
    const header = blobHeader(key.keyId, key.currentVersion, newIv());
    const { ciphertext, tag } = gcmEncrypt(
      material,
      blobAad(header, context),
      plaintext,
      header.subarray(25, 37),
    );
    return { key, ciphertextBlob: encodeBlob(header, tag, ciphertext) };
  }

  /** Decrypt: the key is named by the blob; `expectedKeyRef`, when given, must be that key. */
  async decrypt(blob: Buffer, context: EncryptionContext | undefined, expectedKeyRef?: string) {
    let parsed: ReturnType<typeof decodeBlob>;
    try {
      parsed = decodeBlob(blob);
    } catch (error) {
      if (error instanceof CiphertextBlobError)
        throw new ServiceError('InvalidCiphertextException', error.message, { cause: error });
      throw error;
    }
    const key = await this.#resolve(parsed.keyId);
    if (expectedKeyRef !== undefined && (await this.#resolve(expectedKeyRef)).keyId !== key.keyId) {
      throw new ServiceError(
        'IncorrectKeyException',
        `The key ID in the request does not identify the key that encrypted the ciphertext (${key.arn}).`,
      );
    }
    this.#usable(key);
    if (parsed.keyVersion < 1 || parsed.keyVersion > key.currentVersion) {
      throw new ServiceError('InvalidCiphertextException', INVALID_CIPHERTEXT);
    }
    const material = await this.#material(key, parsed.keyVersion);
    try {
      const plaintext = gcmDecrypt(
        material,
        blobAad(parsed.header, context),
        parsed.iv,
        parsed.ciphertext,
        parsed.tag,
      );
      return { key, plaintext };
    } catch (error) {
      if (error instanceof AuthenticationError)
        throw new ServiceError('InvalidCiphertextException', INVALID_CIPHERTEXT, { cause: error });
      throw error;
    }
  }

  /** GenerateDataKey: `bytes` random bytes, returned in plaintext and encrypted under the key. */
  async generateDataKeyBytes(keyRef: string, bytes: number, context: EncryptionContext | undefined) {
    const plaintext = randomBytes(bytes);
    const { key, ciphertextBlob } = await this.encrypt(keyRef, plaintext, context);
    return { key, plaintext, ciphertextBlob };
  }

  /** KeyProvider: a 256-bit data key for the envelope library. */
  async generateDataKey(keyRef: string, context: EncryptionContext): Promise<DataKey> {
    const { key, plaintext, ciphertextBlob } = await this.generateDataKeyBytes(keyRef, 32, context);
    return { plaintext, wrapped: ciphertextBlob, keyId: key.keyId };
  }

  /** KeyProvider: unwraps a data key made by generateDataKey. */
  async decryptDataKey(
    wrapped: Buffer,
    context: EncryptionContext,
  ): Promise<{ plaintext: Buffer; keyId: string }> {
    const { key, plaintext } = await this.decrypt(wrapped, context);
    return { plaintext, keyId: key.keyId };
  }

  // ---- internals ----------------------------------------------------------------------------

  #now(): number {
    return this.#options.clock.now();
  }

  #root(): Buffer {
    if (!this.#rootKey) throw new Error('KeyService is not started');
    return this.#rootKey;
  }

  /** Resolves any key reference to a live key, destroying it first if its deletion date has passed. */
  async #resolve(keyRef: string): Promise<KeyRecord> {
    const keyId = await this.#keyIdOf(keyRef);
    const key = await this.#store.getKey(keyId);
    if (!key) {
      const deletedAt = await this.#store.deletedAt(keyId);
      if (deletedAt !== undefined) {
        throw new ServiceError(
          'NotFoundException',
          `Key '${this.keyArn(keyId)}' was deleted on ${new Date(deletedAt).toISOString()}; its key material is destroyed and ciphertexts under it can never be decrypted.`,
        );
      }
      throw new ServiceError('NotFoundException', `Key '${this.keyArn(keyId)}' does not exist`);
    }
    if (await this.#destroyIfDue(key)) return this.#resolve(keyId);
    return key;
  }

  /** Resolves a key that aliases and tags may target (any state but destroyed). */
  #resolveTarget(keyRef: string): Promise<KeyRecord> {
    if (keyRef.startsWith('alias/') || /^arn:aws:kms:[^:]*:[^:]*:alias\//.test(keyRef)) {
      throw new ServiceError('ValidationException', `${keyRef} is an alias; specify a key ID or key ARN.`);
    }
    return this.#resolve(keyRef);
  }

  async #keyIdOf(keyRef: string): Promise<string> {
    const { region, accountId } = this.#options;
    const arn = /^arn:aws:kms:([^:]*):([^:]*):(key\/.+|alias\/.+)$/.exec(keyRef);
    if (arn && (arn[1] !== region || arn[2] !== accountId)) {
      throw new ServiceError('NotFoundException', `Key '${keyRef}' does not exist`);
    }
    const ref = arn ? (arn[3] ?? '') : keyRef;
    if (ref.startsWith('key/')) return ref.slice(4);
    if (!ref.startsWith('alias/')) {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(ref)) {
        throw new ServiceError('NotFoundException', `Invalid keyId '${ref}'`);
      }
      return ref;
    }
    const alias = await this.#store.getAlias(ref);
    if (alias) return alias.targetKeyId;
    const description = DEFAULT_ALIASES[ref];
    if (description === undefined)
      throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(ref)} is not found.`);
    return this.#createDefaultKey(ref, description);
  }

  /** Creates an AWS-managed style default key on first use; a concurrent creator may win the alias. */
  async #createDefaultKey(aliasName: string, description: string): Promise<string> {
    const key = await this.createKey({ description, tags: {}, keyManager: 'AWS' });
    const now = this.#now();
    if (
      await this.#store.createAlias({
        aliasName,
        targetKeyId: key.keyId,
        creationDate: now,
        lastUpdatedDate: now,
      })
    ) {
      this.#options.logger.info({ alias: aliasName, keyId: key.keyId }, 'created default KMS key');
      return key.keyId;
    }
    await this.#store.discardKey(key.keyId);
    const winner = await this.#store.getAlias(aliasName);
    if (!winner)
      throw new ServiceError('KMSInternalException', `Default key ${aliasName} could not be created.`);
    return winner.targetKeyId;
  }

  async #destroyIfDue(key: KeyRecord): Promise<boolean> {
    if (key.state !== 'PendingDeletion' || (key.deletionDate ?? Infinity) > this.#now()) return false;
    const outcome = await this.#store.destroy(key.keyId, this.#now());
    if (outcome === 'ok') {
      this.#options.logger.warn({ keyId: key.keyId }, 'KMS key material destroyed (scheduled deletion)');
      this.#notifyUnusable(key.keyId);
    }
    return outcome === 'ok' || outcome === 'missing';
  }

  async #material(key: KeyRecord, version: number): Promise<Buffer> {
    const wrapped = await this.#store.getMaterial(key.keyId, version);
    if (wrapped === null) throw new ServiceError('InvalidCiphertextException', INVALID_CIPHERTEXT);
    try {
      return unwrapMaterial(this.#root(), key.keyId, version, wrapped);
    } catch (error) {
      throw new ServiceError('KMSInternalException', `Key material of ${key.arn} could not be unwrapped.`, {
        cause: error,
      });
    }
  }

  #usable(key: KeyRecord): void {
    if (key.state === 'Disabled') throw new ServiceError('DisabledException', `${key.arn} is disabled.`);
    if (key.state === 'PendingDeletion')
      throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }

  #customerManaged(key: KeyRecord, operation: string): void {
    if (key.keyManager === 'AWS') {
      throw new ServiceError(
        'UnsupportedOperationException',
        `${operation} is not allowed on the AWS managed key ${key.arn}.`,
      );
    }
  }

  async #transition(
    key: KeyRecord,
    allowed: readonly KeyRecord['state'][],
    fields: Record<string, string | number | undefined>,
  ) {
    const outcome = await this.#store.transition(key.keyId, allowed, fields);
    if (outcome !== 'ok') this.#stateError(key, outcome);
  }

  #stateError(key: KeyRecord, outcome: string): never {
    if (outcome === 'missing') throw new ServiceError('NotFoundException', `Key '${key.arn}' does not exist`);
    throw new ServiceError('KMSInvalidStateException', `${key.arn} is ${stateWords(key.state)}.`);
  }

  #notifyUnusable(keyId: string): void {
    for (const listener of this.#unusableListeners) listener(keyId);
  }
}

function rotationDue(key: KeyRecord, nowMs: number): boolean {
  return key.state === 'Enabled' && key.rotationEnabled && (key.nextRotationDate ?? Infinity) <= nowMs;
}

function stateWords(state: KeyRecord['state']): string {
  return state === 'PendingDeletion' ? 'pending deletion' : state === 'Disabled' ? 'disabled' : 'enabled';
}

function reservedAlias(aliasName: string): void {
  if (aliasName.startsWith('alias/aws/')) {
    throw new ServiceError(
      'ValidationException',
      `The alias/aws/ prefix is reserved for AWS managed keys: ${aliasName}`,
    );
  }
}
