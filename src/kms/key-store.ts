import type { RedisClient } from '../redis/index.ts';
import { type AliasRecord, hashToRecord, type KeyRecord, type KeyState, recordToHash } from './key-record.ts';
import { kmsKeys } from './keys.ts';
import { DESTROY_KEY, ROTATE_KEY, TRANSITION_KEY, UPDATE_ALIAS } from './lua-scripts.ts';

/** Outcome codes of the Lua scripts, mapped in one place. */
export type StoreOutcome = 'ok' | 'missing' | 'wrong-state' | 'not-due' | 'conflict';

const OUTCOMES: Readonly<Record<number, StoreOutcome>> = {
  1: 'ok',
  [-1]: 'missing',
  [-2]: 'wrong-state',
  [-3]: 'conflict',
  [-4]: 'not-due',
};

type ScriptClient = RedisClient & {
  sgKmsTransition(key: string, allowed: string, ...fieldValues: string[]): Promise<number>;
  sgKmsRotate(
    key: string,
    material: string,
    expected: string,
    wrapped: string,
    ...fv: string[]
  ): Promise<number>;
  sgKmsDestroy(...args: string[]): Promise<number>;
  sgKmsUpdateAlias(aliases: string, name: string, json: string): Promise<number>;
};

/** Redis persistence of KMS keys, key material (always root-wrapped), aliases and tags. */
export class KeyStore {
  readonly #redis: ScriptClient;

  constructor(redis: RedisClient) {
    this.#redis = redis as ScriptClient;
    this.#redis.defineCommand('sgKmsTransition', { numberOfKeys: 1, lua: TRANSITION_KEY });
    this.#redis.defineCommand('sgKmsRotate', { numberOfKeys: 2, lua: ROTATE_KEY });
    this.#redis.defineCommand('sgKmsDestroy', { numberOfKeys: 6, lua: DESTROY_KEY });
    this.#redis.defineCommand('sgKmsUpdateAlias', { numberOfKeys: 1, lua: UPDATE_ALIAS });
  }

  /** The root-key check value, if any key was ever created. */
  getRootCheck(): Promise<string | null> {
    return this.#redis.get(kmsKeys.rootCheck());
  }

  /** Stores the root-key check unless one exists; returns the stored value. */
  async initRootCheck(value: string): Promise<string> {
    await this.#redis.set(kmsKeys.rootCheck(), value, 'NX');
    return (await this.getRootCheck()) ?? value;
  }

  /** Creates a key with version-1 material and its tags, atomically. */
  async createKey(
    record: KeyRecord,
    wrappedMaterial: string,
    tags: Readonly<Record<string, string>>,
  ): Promise<void> {
    const tx = this.#redis.multi();
    tx.hset(kmsKeys.key(record.keyId), recordToHash(record));
    tx.hset(kmsKeys.material(record.keyId), '1', wrappedMaterial);
    tx.zadd(kmsKeys.keyIds(), 0, record.keyId);
    if (Object.keys(tags).length > 0) tx.hset(kmsKeys.tags(record.keyId), tags);
    await tx.exec();
  }

  /** The key's metadata, or undefined. */
  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    return hashToRecord(await this.#redis.hgetall(kmsKeys.key(keyId)));
  }

  /** Wrapped material of one version, or null when destroyed / never existed. */
  getMaterial(keyId: string, version: number): Promise<string | null> {
    return this.#redis.hget(kmsKeys.material(keyId), String(version));
  }

  /** When the key was crypto-shredded (epoch ms), if it was. */
  async deletedAt(keyId: string): Promise<number | undefined> {
    const value = await this.#redis.hget(kmsKeys.deleted(), keyId);
    return value === null ? undefined : Number(value);
  }

  /** Key ids in id order after `afterKeyId`, at most `limit`. */
  listKeyIds(afterKeyId: string | undefined, limit: number): Promise<string[]> {
    return this.#redis.zrangebylex(
      kmsKeys.keyIds(),
      afterKeyId ? `(${afterKeyId}` : '-',
      '+',
      'LIMIT',
      0,
      limit,
    );
  }

  /** Sets fields if the key's state is one of `allowed`; `''` deletes a field. */
  async transition(
    keyId: string,
    allowed: readonly KeyState[],
    fields: Readonly<Record<string, string | number | undefined>>,
  ): Promise<StoreOutcome> {
    const pairs = Object.entries(fields).flatMap(([k, v]) => [k, v === undefined ? '' : String(v)]);
    return outcome(await this.#redis.sgKmsTransition(kmsKeys.key(keyId), allowed.join(','), ...pairs));
  }

  /** Adds the next material version if the current one is still `expectedVersion`. */
  async rotate(
    keyId: string,
    expectedVersion: number,
    wrappedNext: string,
    fields: Readonly<Record<string, string | number>>,
  ): Promise<StoreOutcome> {
    const pairs = Object.entries(fields).flatMap(([k, v]) => [k, String(v)]);
    const result = await this.#redis.sgKmsRotate(
      kmsKeys.key(keyId),
      kmsKeys.material(keyId),
      String(expectedVersion),
      wrappedNext,
      ...pairs,
    );
    return result > 0 ? 'ok' : outcome(result);
  }

  /** Destroys a PendingDeletion key whose date has passed (crypto-shredding). */
  async destroy(keyId: string, nowMs: number): Promise<StoreOutcome> {
    return outcome(
      await this.#redis.sgKmsDestroy(
        kmsKeys.key(keyId),
        kmsKeys.material(keyId),
        kmsKeys.tags(keyId),
        kmsKeys.keyIds(),
        kmsKeys.aliases(),
        kmsKeys.deleted(),
        keyId,
        String(nowMs),
      ),
    );
  }

  /** Removes a key created by a lost race (never used for anything). */
  async discardKey(keyId: string): Promise<void> {
    await this.#redis
      .multi()
      .del(kmsKeys.key(keyId), kmsKeys.material(keyId), kmsKeys.tags(keyId))
      .zrem(kmsKeys.keyIds(), keyId)
      .exec();
  }

  /** Creates an alias unless the name is taken; false when taken. */
  async createAlias(alias: AliasRecord): Promise<boolean> {
    return (await this.#redis.hsetnx(kmsKeys.aliases(), alias.aliasName, aliasJson(alias))) === 1;
  }

  /** Repoints an existing alias; false when it does not exist. */
  async updateAlias(alias: AliasRecord): Promise<boolean> {
    return (await this.#redis.sgKmsUpdateAlias(kmsKeys.aliases(), alias.aliasName, aliasJson(alias))) === 1;
  }

  /** Deletes an alias; false when it did not exist. */
  async deleteAlias(aliasName: string): Promise<boolean> {
    return (await this.#redis.hdel(kmsKeys.aliases(), aliasName)) === 1;
  }

  /** One alias, or undefined. */
  async getAlias(aliasName: string): Promise<AliasRecord | undefined> {
    const json = await this.#redis.hget(kmsKeys.aliases(), aliasName);
    return json === null ? undefined : { aliasName, ...(JSON.parse(json) as Omit<AliasRecord, 'aliasName'>) };
  }

  /** Every alias, sorted by name. */
  async listAliases(): Promise<AliasRecord[]> {
    const all = await this.#redis.hgetall(kmsKeys.aliases());
    return Object.entries(all)
      .map(([aliasName, json]) => ({ aliasName, ...(JSON.parse(json) as Omit<AliasRecord, 'aliasName'>) }))
      .sort((a, b) => (a.aliasName < b.aliasName ? -1 : a.aliasName > b.aliasName ? 1 : 0));
  }

  /** A key's tags. */
  getTags(keyId: string): Promise<Record<string, string>> {
    return this.#redis.hgetall(kmsKeys.tags(keyId));
  }

  /** Adds or replaces tags. */
  async putTags(keyId: string, tags: Readonly<Record<string, string>>): Promise<void> {
    if (Object.keys(tags).length > 0) await this.#redis.hset(kmsKeys.tags(keyId), tags);
  }

  /** Removes tags by key. */
  async removeTags(keyId: string, tagKeys: readonly string[]): Promise<void> {
    if (tagKeys.length > 0) await this.#redis.hdel(kmsKeys.tags(keyId), ...tagKeys);
  }

  /** Ids of keys in PendingDeletion or with rotation enabled: the maintenance loop's work list. */
  async allKeyIds(): Promise<string[]> {
    return this.#redis.zrangebylex(kmsKeys.keyIds(), '-', '+');
  }
}

function outcome(code: number): StoreOutcome {
  const result = OUTCOMES[code];
  if (result === undefined) throw new Error(`unexpected KMS script result ${code}`);
  return result;
}

function aliasJson(alias: AliasRecord): string {
  return JSON.stringify({
    targetKeyId: alias.targetKeyId,
    creationDate: alias.creationDate,
    lastUpdatedDate: alias.lastUpdatedDate,
  });
}
