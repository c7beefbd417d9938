/** Lifecycle states of a KMS key (a subset of AWS KeyState). */
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

/** Who manages a key: users (CUSTOMER) or the gateway itself (AWS, for `alias/aws/*` defaults). */
export type KeyManager = 'CUSTOMER' | 'AWS';

/** A KMS key's metadata as stored (times in epoch ms). */
export interface KeyRecord {
  keyId: string;
  arn: string;
  description: string;
  state: KeyState;
  keyManager: KeyManager;
  creationDate: number;
  /** Set while PendingDeletion: when the material is destroyed. */
  deletionDate: number | undefined;
  pendingWindowDays: number | undefined;
  rotationEnabled: boolean;
  rotationPeriodDays: number | undefined;
  nextRotationDate: number | undefined;
  onDemandRotationStartDate: number | undefined;
  /** The version new encryptions use; every version from 1 to this one stays decryptable. */
  currentVersion: number;
}

/** An alias and the key it points to. */
export interface AliasRecord {
  aliasName: string;
  targetKeyId: string;
  creationDate: number;
  lastUpdatedDate: number;
}

/** Redis hash fields <-> KeyRecord. */
export function recordToHash(record: KeyRecord): Record<string, string> {
  const hash: Record<string, string> = {
    keyId: record.keyId,
    arn: record.arn,
    description: record.description,
    state: record.state,
    keyManager: record.keyManager,
    creationDate: String(record.creationDate),
    rotationEnabled: record.rotationEnabled ? '1' : '0',
    currentVersion: String(record.currentVersion),
  };
  const optional = {
    deletionDate: record.deletionDate,
    pendingWindowDays: record.pendingWindowDays,
    rotationPeriodDays: record.rotationPeriodDays,
    nextRotationDate: record.nextRotationDate,
    onDemandRotationStartDate: record.onDemandRotationStartDate,
  };
  for (const [field, value] of Object.entries(optional)) if (value !== undefined) hash[field] = String(value);
  return hash;
}

/** Parses a stored hash; undefined when the key does not exist. */
export function hashToRecord(hash: Record<string, string>): KeyRecord | undefined {
  if (!hash.keyId || !hash.arn) return undefined;
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  return {
    keyId: hash.keyId,
    arn: hash.arn,
    description: hash.description ?? '',
    state: (hash.state ?? 'Enabled') as KeyState,
    keyManager: (hash.keyManager ?? 'CUSTOMER') as KeyManager,
    creationDate: Number(hash.creationDate),
    deletionDate: num(hash.deletionDate),
    pendingWindowDays: num(hash.pendingWindowDays),
    rotationEnabled: hash.rotationEnabled === '1',
    rotationPeriodDays: num(hash.rotationPeriodDays),
    nextRotationDate: num(hash.nextRotationDate),
    onDemandRotationStartDate: num(hash.onDemandRotationStartDate),
    currentVersion: Number(hash.currentVersion ?? 1),
  };
}
