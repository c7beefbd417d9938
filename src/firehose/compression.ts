import { promisify } from 'node:util';
import { crc32, deflateRaw as deflateRawCb, gzip as gzipCb } from 'node:zlib';
import type { CompressionFormat } from './delivery-stream-record.ts';
import { hadoopSnappy, snappyFrame } from './snappy.ts';

const gzip = promisify(gzipCb);
const deflateRaw = promisify(deflateRawCb);

/** Compresses one object's bytes as CompressionFormat says; `entryName` names the entry inside a ZIP. */
export async function compress(format: CompressionFormat, data: Buffer, entryName: string): Promise<Buffer> {
  switch (format) {
    case 'GZIP':
      return gzip(data);
    case 'ZIP':
      return zipSingleEntry(entryName, data, await deflateRaw(data));
    case 'Snappy':
      return snappyFrame(data);
    case 'HADOOP_SNAPPY':
      return hadoopSnappy(data);
    default:
      return data;
  }
}

/**
 * A ZIP archive (APPNOTE 6.3.x) holding one deflated entry: local header, data, central directory,
 * end of central directory. No ZIP64, so objects stay under 4 GiB (buffers are at most 128 MiB).
 */
function zipSingleEntry(name: string, raw: Buffer, deflated: Buffer): Buffer {
  const fileName = Buffer.from(name, 'utf8');
  const checksum = crc32(raw) >>> 0;
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed
  local.writeUInt16LE(0x0800, 6); // UTF-8 names
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(0, 10); // time + date
  local.writeUInt32LE(checksum, 14);
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(raw.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  local.writeUInt16LE(0, 28);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0x0800, 8);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(0, 12);
  central.writeUInt32LE(checksum, 16);
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(raw.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  central.writeUInt32LE(0, 42); // local header offset (fields 30..41 stay zero)
  const centralOffset = local.length + fileName.length + deflated.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fileName.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, fileName, deflated, central, fileName, end]);
}
