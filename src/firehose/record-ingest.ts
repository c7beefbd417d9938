import { ServiceError } from '../errors/index.ts';
import { recordContext, sealingKeyOf } from './delivery-stream-record.ts';
import type { DeliveryStreamRegistry } from './delivery-stream-registry.ts';
import type { FirehoseMetrics } from './firehose-metrics.ts';
import type { Clock, RecordSealer } from './ports.ts';
import { BufferFullError, type RecordBuffer } from './record-buffer.ts';

/** The outcome of one record of a put. */
export type PutOutcome =
  | { recordId: string }
  | { errorCode: 'ServiceUnavailableException'; errorMessage: string };

/**
 * PutRecord / PutRecordBatch: seals records when encryption is on and appends them to the buffer in one
 * atomic step; a record is acknowledged only once Redis stored it.
 */
export class RecordIngest {
  readonly #registry: DeliveryStreamRegistry;
  readonly #buffer: RecordBuffer;
  readonly #sealer: RecordSealer;
  readonly #clock: Clock;
  readonly #metrics: FirehoseMetrics;

  constructor(options: {
    registry: DeliveryStreamRegistry;
    buffer: RecordBuffer;
    sealer: RecordSealer;
    clock: Clock;
    metrics: FirehoseMetrics;
  }) {
    this.#registry = options.registry;
    this.#buffer = options.buffer;
    this.#sealer = options.sealer;
    this.#clock = options.clock;
    this.#metrics = options.metrics;
  }

  /** Buffers the records; the whole batch succeeds or each record reports ServiceUnavailableException. */
  async put(
    name: string,
    records: readonly Buffer[],
  ): Promise<{ outcomes: PutOutcome[]; encrypted: boolean }> {
    const stream = await this.#registry.require(name);
    if (stream.type !== 'DirectPut') {
      throw new ServiceError(
        'InvalidArgumentException',
        `This operation is not permitted on KinesisStreamAsSource delivery stream type.`,
      );
    }
    if (stream.status !== 'ACTIVE') {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Firehose ${name} is not ACTIVE (${stream.status}).`,
      );
    }
    const keyRef = sealingKeyOf(stream);
    const arrivalMs = this.#clock.now();
    const context = recordContext(stream);
    const incoming = await Promise.all(
      records.map(async (data) => ({
        data: keyRef ? await this.#sealer.seal(data, keyRef, context) : data,
        arrivalMs,
        sealed: keyRef !== undefined,
      })),
    );
    let ids: string[];
    try {
      ids = await this.#buffer.append(name, incoming);
    } catch (error) {
      // A full buffer (a destination failing for long): producers back off, as from AWS throttling.
      if (error instanceof BufferFullError)
        throw new ServiceError('ServiceUnavailableException', 'Slow down.', { cause: error });
      // Nothing of the batch was stored (the append is one script): every record may be retried.
      const errorMessage = `Records could not be buffered: ${error instanceof Error ? error.message : String(error)}`;
      return {
        outcomes: records.map(() => ({ errorCode: 'ServiceUnavailableException', errorMessage })),
        encrypted: keyRef !== undefined,
      };
    }
    const label = { delivery_stream: name };
    this.#metrics.incomingRecords.inc(label, records.length);
    this.#metrics.incomingBytes.inc(
      label,
      records.reduce((n, r) => n + r.length, 0),
    );
    return { outcomes: ids.map((id) => ({ recordId: recordIdOf(id) })), encrypted: keyRef !== undefined };
  }
}

/** An opaque RecordId from a buffer entry id. */
function recordIdOf(entryId: string): string {
  return Buffer.from(entryId).toString('hex').padEnd(56, '0');
}
