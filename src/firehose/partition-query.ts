// Dynamic partitioning keys from JSON records (MetadataExtraction, `!{partitionKeyFromQuery:<key>}`).
// Supports the JQ subset most partitioning queries use: an object of simple paths,
// `{customer_id: .customer_id, year: .event."year"}`. Pure.

/** A query Streamgate cannot evaluate. */
export class PartitionQueryError extends Error {}

/** One partition key and the path to its value. */
export interface PartitionKeySpec {
  key: string;
  path: string[];
}

const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const SEGMENT = new RegExp(`^\\.(?:(${IDENT})|"([^"]*)")`);

/** Parses `{k: .a.b, "k2": .c}`; throws PartitionQueryError on anything else. */
export function parsePartitionQuery(query: string): PartitionKeySpec[] {
  const body = query.trim();
  if (!body.startsWith('{') || !body.endsWith('}')) {
    throw new PartitionQueryError(
      `MetadataExtractionQuery ${query} must be an object of paths, e.g. {id: .id}.`,
    );
  }
  const specs: PartitionKeySpec[] = [];
  for (const member of splitMembers(body.slice(1, -1))) {
    const colon = member.indexOf(':');
    if (colon === -1) throw new PartitionQueryError(`Member ${member} of ${query} has no ':'.`);
    const key = member
      .slice(0, colon)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (!new RegExp(`^${IDENT}$`).test(key))
      throw new PartitionQueryError(`Key ${key} of ${query} is not a name.`);
    let rest = member.slice(colon + 1).trim();
    const path: string[] = [];
    while (rest !== '') {
      const m = SEGMENT.exec(rest);
      if (!m)
        throw new PartitionQueryError(
          `Path ${member.slice(colon + 1).trim()} of ${query} is not a simple path.`,
        );
      path.push((m[1] ?? m[2]) as string);
      rest = rest.slice(m[0].length);
    }
    if (path.length === 0) throw new PartitionQueryError(`Key ${key} of ${query} has an empty path.`);
    specs.push({ key, path });
  }
  if (specs.length === 0) throw new PartitionQueryError(`MetadataExtractionQuery ${query} names no key.`);
  return specs;
}

/** The partition keys of one record; throws PartitionQueryError when it is not JSON or lacks a key. */
export function extractPartitionKeys(
  data: Buffer,
  specs: readonly PartitionKeySpec[],
): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new PartitionQueryError('The record is not valid JSON.', { cause: error });
  }
  const keys: Record<string, string> = {};
  for (const spec of specs) {
    let at: unknown = value;
    for (const segment of spec.path) {
      at = at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[segment] : undefined;
    }
    if (at === undefined || at === null || typeof at === 'object') {
      throw new PartitionQueryError(
        `The record has no scalar value at .${spec.path.join('.')} for key ${spec.key}.`,
      );
    }
    keys[spec.key] = String(at);
  }
  return keys;
}

function splitMembers(text: string): string[] {
  const members: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      members.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') members.push(current.trim());
  return members;
}
