import { z } from 'zod';
import { ServiceError } from '../../errors/index.ts';
import type { KeyRecord, KeyService } from '../../kms/index.ts';
import type { JsonService, OperationHandler } from '../aws/aws-protocol.ts';
import { blob, int, oneOf, parseInput, str } from '../aws/validation.ts';

// AWS KMS (TrentService, awsJson1_1) on the protocol core: validates input at the edge, calls the
// key service, and shapes its output exactly as @aws-sdk/client-kms expects.

const keyId = str(1, 2048);
const context = z.record(z.string(), z.string({ message: 'Member must be a string' })).optional();
const limit = int(1, 1000).optional();
const marker = str(1, 1024)
  .regex(/^[\u0020-\u00FF]*$/, 'Member must satisfy regular expression pattern: [\\u0020-\\u00FF]*')
  .optional();
const aliasName = str(1, 256).regex(
  /^alias\/[a-zA-Z0-9/_-]+$/,
  'Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$',
);
const tags = z
  .array(z.object({ TagKey: str(1, 128), TagValue: str(0, 256) }))
  .max(50, 'Member must have length less than or equal to 50');
const symmetric = oneOf(['SYMMETRIC_DEFAULT']).optional();
const grantTokens = z.array(z.string()).optional();

const PLAINTEXT_MAX_BYTES = 4096;
const DEFAULT_ROTATION_DAYS = 365;

function keyMetadata(key: KeyRecord, accountId: string) {
  return {
    AWSAccountId: accountId,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: new Date(key.creationDate),
    Enabled: key.state === 'Enabled',
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: key.state,
    ...(key.deletionDate !== undefined ? { DeletionDate: new Date(key.deletionDate) } : {}),
    ...(key.pendingWindowDays !== undefined ? { PendingDeletionWindowInDays: key.pendingWindowDays } : {}),
    Origin: 'AWS_KMS',
    KeyManager: key.keyManager,
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  };
}

function tagMap(
  list: ReadonlyArray<{ TagKey: string; TagValue: string }> | undefined,
): Record<string, string> {
  return Object.fromEntries((list ?? []).map((t) => [t.TagKey, t.TagValue]));
}

/** The TrentService operations, ready to register on the AWS protocol core. */
export function kmsApi(kms: KeyService, accountId: string): JsonService {
  // Input schemas are built once per API instance: building zod schemas per request costs ~90 µs.
  const createKeyInput = z.object({
    Description: str(0, 8192).optional(),
    KeyUsage: oneOf(['ENCRYPT_DECRYPT']).optional(),
    KeySpec: symmetric,
    CustomerMasterKeySpec: symmetric,
    Origin: oneOf(['AWS_KMS']).optional(),
    MultiRegion: z
      .literal(false, { message: 'Member must be false: multi-Region keys are not supported' })
      .optional(),
    Tags: tags.optional(),
    Policy: z.string().optional(),
    BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
  });
  const describeKeyInput = z.object({ KeyId: keyId, GrantTokens: grantTokens });
  const listKeysInput = z.object({ Limit: limit, Marker: marker });
  const enableKeyInput = z.object({ KeyId: keyId });
  const disableKeyInput = z.object({ KeyId: keyId });
  const scheduleKeyDeletionInput = z.object({ KeyId: keyId, PendingWindowInDays: int(7, 30).optional() });
  const cancelKeyDeletionInput = z.object({ KeyId: keyId });
  const enableKeyRotationInput = z.object({ KeyId: keyId, RotationPeriodInDays: int(90, 2560).optional() });
  const disableKeyRotationInput = z.object({ KeyId: keyId });
  const getKeyRotationStatusInput = z.object({ KeyId: keyId });
  const rotateKeyOnDemandInput = z.object({ KeyId: keyId });
  const createAliasInput = z.object({ AliasName: aliasName, TargetKeyId: keyId });
  const updateAliasInput = z.object({ AliasName: aliasName, TargetKeyId: keyId });
  const deleteAliasInput = z.object({ AliasName: aliasName });
  const listAliasesInput = z.object({ KeyId: keyId.optional(), Limit: limit, Marker: marker });
  const tagResourceInput = z.object({ KeyId: keyId, Tags: tags });
  const untagResourceInput = z.object({ KeyId: keyId, TagKeys: z.array(str(1, 128)).max(50) });
  const listResourceTagsInput = z.object({ KeyId: keyId, Limit: int(1, 50).optional(), Marker: marker });
  const encryptInput = z.object({
    KeyId: keyId,
    Plaintext: blob({ minBytes: 1, maxBytes: PLAINTEXT_MAX_BYTES }),
    EncryptionContext: context,
    EncryptionAlgorithm: symmetric,
    GrantTokens: grantTokens,
  });
  const decryptInput = z.object({
    CiphertextBlob: blob({ minBytes: 1, maxBytes: 6144 }),
    EncryptionContext: context,
    KeyId: keyId.optional(),
    EncryptionAlgorithm: symmetric,
    GrantTokens: grantTokens,
  });
  const reEncryptInput = z.object({
    CiphertextBlob: blob({ minBytes: 1, maxBytes: 6144 }),
    SourceEncryptionContext: context,
    SourceKeyId: keyId.optional(),
    DestinationKeyId: keyId,
    DestinationEncryptionContext: context,
    SourceEncryptionAlgorithm: symmetric,
    DestinationEncryptionAlgorithm: symmetric,
    GrantTokens: grantTokens,
  });

  const ops: Record<string, OperationHandler> = {
    CreateKey: async (input) => {
      const i = parseInput(createKeyInput, input);
      const key = await kms.createKey({ description: i.Description ?? '', tags: tagMap(i.Tags) });
      return { KeyMetadata: keyMetadata(key, accountId) };
    },
    DescribeKey: async (input) => {
      const i = parseInput(describeKeyInput, input);
      return { KeyMetadata: keyMetadata(await kms.describeKey(i.KeyId), accountId) };
    },
    ListKeys: async (input) => {
      const i = parseInput(listKeysInput, input);
      const page = await kms.listKeys(i.Limit ?? 100, i.Marker);
      return {
        Keys: page.keys.map((id) => ({ KeyId: id, KeyArn: kms.keyArn(id) })),
        Truncated: page.nextMarker !== undefined,
        ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      };
    },
    EnableKey: async (input) => {
      await kms.enableKey(parseInput(enableKeyInput, input).KeyId);
    },
    DisableKey: async (input) => {
      await kms.disableKey(parseInput(disableKeyInput, input).KeyId);
    },
    ScheduleKeyDeletion: async (input) => {
      const i = parseInput(scheduleKeyDeletionInput, input);
      const key = await kms.scheduleKeyDeletion(i.KeyId, i.PendingWindowInDays ?? 30);
      return {
        KeyId: key.arn,
        DeletionDate: new Date(key.deletionDate ?? 0),
        KeyState: key.state,
        PendingWindowInDays: key.pendingWindowDays,
      };
    },
    CancelKeyDeletion: async (input) => {
      const key = await kms.cancelKeyDeletion(parseInput(cancelKeyDeletionInput, input).KeyId);
      return { KeyId: key.arn };
    },
    EnableKeyRotation: async (input) => {
      const i = parseInput(enableKeyRotationInput, input);
      await kms.enableKeyRotation(i.KeyId, i.RotationPeriodInDays ?? DEFAULT_ROTATION_DAYS);
    },
    DisableKeyRotation: async (input) => {
      await kms.disableKeyRotation(parseInput(disableKeyRotationInput, input).KeyId);
    },
    GetKeyRotationStatus: async (input) => {
      const key = await kms.describeKey(parseInput(getKeyRotationStatusInput, input).KeyId);
      return {
        KeyId: key.arn,
        KeyRotationEnabled: key.rotationEnabled,
        ...(key.rotationEnabled && key.rotationPeriodDays
          ? { RotationPeriodInDays: key.rotationPeriodDays }
          : {}),
        ...(key.rotationEnabled && key.nextRotationDate
          ? { NextRotationDate: new Date(key.nextRotationDate) }
          : {}),
        ...(key.onDemandRotationStartDate
          ? { OnDemandRotationStartDate: new Date(key.onDemandRotationStartDate) }
          : {}),
      };
    },
    RotateKeyOnDemand: async (input) => {
      const key = await kms.rotateKeyOnDemand(parseInput(rotateKeyOnDemandInput, input).KeyId);
      return { KeyId: key.arn };
    },
    CreateAlias: async (input) => {
      const i = parseInput(createAliasInput, input);
      await kms.createAlias(i.AliasName, i.TargetKeyId);
    },
    UpdateAlias: async (input) => {
      const i = parseInput(updateAliasInput, input);
      await kms.updateAlias(i.AliasName, i.TargetKeyId);
    },
    DeleteAlias: async (input) => {
      await kms.deleteAlias(parseInput(deleteAliasInput, input).AliasName);
    },
    ListAliases: async (input) => {
      const i = parseInput(listAliasesInput, input);
      const page = await kms.listAliases(i.KeyId, i.Limit ?? 100, i.Marker);
      return {
        Aliases: page.aliases.map((a) => ({
          AliasName: a.aliasName,
          AliasArn: kms.aliasArn(a.aliasName),
          TargetKeyId: a.targetKeyId,
          CreationDate: new Date(a.creationDate),
          LastUpdatedDate: new Date(a.lastUpdatedDate),
        })),
        Truncated: page.nextMarker !== undefined,
        ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      };
    },
    TagResource: async (input) => {
      const i = parseInput(tagResourceInput, input);
      await kms.tagResource(i.KeyId, tagMap(i.Tags));
    },
    UntagResource: async (input) => {
      const i = parseInput(untagResourceInput, input);
      await kms.untagResource(i.KeyId, i.TagKeys);
    },
    ListResourceTags: async (input) => {
      const i = parseInput(listResourceTagsInput, input);
      const all = await kms.listResourceTags(i.KeyId);
      const rest = i.Marker === undefined ? all : all.filter((t) => t.tagKey > (i.Marker ?? ''));
      const page = rest.slice(0, i.Limit ?? 50);
      const truncated = rest.length > page.length;
      return {
        Tags: page.map((t) => ({ TagKey: t.tagKey, TagValue: t.tagValue })),
        Truncated: truncated,
        ...(truncated ? { NextMarker: page.at(-1)?.tagKey } : {}),
      };
    },
    Encrypt: async (input) => {
      const i = parseInput(encryptInput, input, ['Plaintext']);
      const { key, ciphertextBlob } = await kms.encrypt(i.KeyId, i.Plaintext, i.EncryptionContext);
      return { CiphertextBlob: ciphertextBlob, KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    Decrypt: async (input) => {
      const i = parseInput(decryptInput, input);
      const { key, plaintext } = await kms.decrypt(i.CiphertextBlob, i.EncryptionContext, i.KeyId);
      return { KeyId: key.arn, Plaintext: plaintext, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    ReEncrypt: async (input) => {
      const i = parseInput(reEncryptInput, input);
      const source = await kms.decrypt(i.CiphertextBlob, i.SourceEncryptionContext, i.SourceKeyId);
      try {
        const destination = await kms.encrypt(
          i.DestinationKeyId,
          source.plaintext,
          i.DestinationEncryptionContext,
        );
        return {
          CiphertextBlob: destination.ciphertextBlob,
          SourceKeyId: source.key.arn,
          KeyId: destination.key.arn,
          SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
          DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        };
      } finally {
        source.plaintext.fill(0);
      }
    },
    GenerateDataKey: async (input) => {
      const i = parseInput(dataKeyInput, input);
      dryRun(i.DryRun);
      const { key, plaintext, ciphertextBlob } = await kms.generateDataKeyBytes(
        i.KeyId,
        dataKeyBytes(i),
        i.EncryptionContext,
      );
      return { CiphertextBlob: ciphertextBlob, Plaintext: plaintext, KeyId: key.arn };
    },
    GenerateDataKeyWithoutPlaintext: async (input) => {
      const i = parseInput(dataKeyInput, input);
      dryRun(i.DryRun);
      const { key, plaintext, ciphertextBlob } = await kms.generateDataKeyBytes(
        i.KeyId,
        dataKeyBytes(i),
        i.EncryptionContext,
      );
      plaintext.fill(0);
      return { CiphertextBlob: ciphertextBlob, KeyId: key.arn };
    },
  };
  return { targetPrefix: 'TrentService', signingName: 'kms', operations: ops };
}

const dataKeyInput = z
  .object({
    KeyId: keyId,
    EncryptionContext: context,
    NumberOfBytes: int(1, 1024).optional(),
    KeySpec: oneOf(['AES_256', 'AES_128']).optional(),
    GrantTokens: grantTokens,
    DryRun: z.boolean().optional(),
  })
  .refine((i) => (i.NumberOfBytes === undefined) !== (i.KeySpec === undefined), {
    message: 'Member must be set: specify either KeySpec or NumberOfBytes, but not both',
    path: ['KeySpec'],
  });

function dryRun(requested: boolean | undefined): void {
  if (requested)
    throw new ServiceError(
      'DryRunOperationException',
      'The request would have succeeded, but DryRun was set.',
    );
}

function dataKeyBytes(i: {
  NumberOfBytes?: number | undefined;
  KeySpec?: 'AES_256' | 'AES_128' | undefined;
}): number {
  return i.NumberOfBytes ?? (i.KeySpec === 'AES_128' ? 16 : 32);
}
