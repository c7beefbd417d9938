import type { Readable } from 'node:stream';
import {
  type ListOptions,
  type ObjectStore,
  ObjectStoreError,
  type PutOptions,
} from '../../../src/storage/index.ts';

/** Our ObjectStore port around a real store, whose puts fail while `failing` is set, or wait while held. */
export class FlakyStore implements ObjectStore {
  failing = false;
  failedPuts = 0;
  /** Puts waiting in hold(). */
  heldPuts = 0;
  #held: { promise: Promise<void>; release: () => void } | undefined;
  readonly putKeys: string[] = [];
  readonly #inner: ObjectStore;
  constructor(inner: ObjectStore) {
    this.#inner = inner;
  }
  /** Makes puts wait (a store that hangs) until release(). */
  hold(): void {
    let release = () => {};
    const promise = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#held = { promise, release };
  }
  release(): void {
    this.#held?.release();
    this.#held = undefined;
  }
  async put(key: string, body: Buffer | Readable, options?: PutOptions) {
    const held = this.#held;
    if (held) {
      this.heldPuts += 1;
      await held.promise;
      this.heldPuts -= 1;
    }
    if (this.failing) {
      this.failedPuts += 1;
      if (typeof body !== 'string' && 'destroy' in body) body.destroy();
      throw new ObjectStoreError('injected failure');
    }
    this.putKeys.push(key);
    return this.#inner.put(key, body, options);
  }
  get = (key: string) => this.#inner.get(key);
  getRange = (key: string, start: number, end: number) => this.#inner.getRange(key, start, end);
  getBuffer = (key: string) => this.#inner.getBuffer(key);
  stat = (key: string) => this.#inner.stat(key);
  list = (prefix: string, options?: ListOptions) => this.#inner.list(prefix, options);
  deleteMany = (keys: readonly string[]) => this.#inner.deleteMany(keys);
  ping = () => this.#inner.ping();
  start = () => this.#inner.start();
  stop = () => this.#inner.stop();
}
