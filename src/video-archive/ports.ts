// Ports that video-archive/ needs from elsewhere; app.ts wires them (to kms/).

/** Checks that a KMS key exists and can encrypt now, throwing the key service's error otherwise. */
export interface KeyChecker {
  checkKey(keyRef: string): Promise<void>;
}

/** Time source; injected so creation times (and later retention) can be tested. */
export interface Clock {
  now(): number;
}

/** Envelope encryption of archived objects (crypto/'s Envelope implements it). */
export interface ArchiveSealer {
  /** [header, ciphertext] of the envelope of `plaintext` under `keyRef`, bound to `context`. */
  sealParts(
    plaintext: Buffer,
    keyRef: string,
    context: Readonly<Record<string, string>>,
  ): Promise<[Buffer, Buffer]>;
  /** The plaintext of an envelope sealed with the same context. */
  open(envelope: Buffer, context: Readonly<Record<string, string>>): Promise<Buffer>;
}
