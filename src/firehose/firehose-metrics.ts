import { Counter, Gauge, type Registry } from 'prom-client';

/** Firehose's Prometheus metrics, named after the CloudWatch ones, labelled by delivery stream. */
export class FirehoseMetrics {
  readonly incomingRecords: Counter<'delivery_stream'>;
  readonly incomingBytes: Counter<'delivery_stream'>;
  readonly deliveryToS3Records: Counter<'delivery_stream'>;
  readonly deliveryToS3Bytes: Counter<'delivery_stream'>;
  readonly deliveryToS3Success: Counter<'delivery_stream' | 'outcome'>;
  readonly deliveryToS3DataFreshness: Gauge<'delivery_stream'>;
  readonly deliveryToHttpEndpointRecords: Counter<'delivery_stream'>;
  readonly deliveryToHttpEndpointSuccess: Counter<'delivery_stream' | 'outcome'>;
  readonly executeProcessingSuccess: Counter<'delivery_stream' | 'outcome'>;
  readonly failedRecords: Counter<'delivery_stream' | 'error_output_type'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ['delivery_stream'] as const;
    this.incomingRecords = new Counter({
      name: 'streamgate_firehose_incoming_records_total',
      help: 'IncomingRecords: records accepted by PutRecord(Batch) or read from the source stream',
      labelNames,
      registers,
    });
    this.incomingBytes = new Counter({
      name: 'streamgate_firehose_incoming_bytes_total',
      help: 'IncomingBytes: bytes of the accepted records',
      labelNames,
      registers,
    });
    this.deliveryToS3Records = new Counter({
      name: 'streamgate_firehose_delivery_to_s3_records_total',
      help: 'DeliveryToS3.Records: records written to the object store',
      labelNames,
      registers,
    });
    this.deliveryToS3Bytes = new Counter({
      name: 'streamgate_firehose_delivery_to_s3_bytes_total',
      help: 'DeliveryToS3.Bytes: record bytes written to the object store (before compression)',
      labelNames,
      registers,
    });
    this.deliveryToS3Success = new Counter({
      name: 'streamgate_firehose_delivery_to_s3_success_total',
      help: 'DeliveryToS3.Success: object puts by outcome (success, failure)',
      labelNames: ['delivery_stream', 'outcome'],
      registers,
    });
    this.deliveryToS3DataFreshness = new Gauge({
      name: 'streamgate_firehose_delivery_to_s3_data_freshness_seconds',
      help: 'DeliveryToS3.DataFreshness: age of the oldest record of the last delivered object',
      labelNames,
      registers,
    });
    this.deliveryToHttpEndpointRecords = new Counter({
      name: 'streamgate_firehose_delivery_to_http_endpoint_records_total',
      help: 'DeliveryToHttpEndpoint.Records: records delivered to the HTTP endpoint',
      labelNames,
      registers,
    });
    this.deliveryToHttpEndpointSuccess = new Counter({
      name: 'streamgate_firehose_delivery_to_http_endpoint_success_total',
      help: 'DeliveryToHttpEndpoint.Success: deliveries by outcome (success, failure after retries)',
      labelNames: ['delivery_stream', 'outcome'],
      registers,
    });
    this.executeProcessingSuccess = new Counter({
      name: 'streamgate_firehose_execute_processing_success_total',
      help: 'ExecuteProcessing.Success: transformed records by outcome (ok, dropped, failed)',
      labelNames: ['delivery_stream', 'outcome'],
      registers,
    });
    this.failedRecords = new Counter({
      name: 'streamgate_firehose_error_output_records_total',
      help: 'Records written to the error output, by error output type',
      labelNames: ['delivery_stream', 'error_output_type'],
      registers,
    });
  }
}
