// Ports that data-streams/ needs from elsewhere; app.ts wires them (to crypto/ and kms/).

/** Seals and opens record payloads when a stream is encrypted (crypto/'s Envelope fits). */
export interface RecordSealer {
  seal(plaintext: Buffer, keyRef: string, context: Readonly<Record<string, string>>): Promise<Buffer>;
  open(envelope: Buffer, context: Readonly<Record<string, string>>): Promise<Buffer>;
}

/** Checks that a KMS key exists and is usable, throwing the key service's error otherwise. */
export interface KeyChecker {
  checkKey(keyRef: string): Promise<void>;
}

/** Time source; injected so retention and iterator expiry can be tested. */
export interface Clock {
  now(): number;
}
