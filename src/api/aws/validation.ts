import { z } from 'zod';
import { ServiceError } from '../../errors/index.ts';

/**
 * Validates an operation's input at the edge. Failures become one ValidationException in AWS's words:
 * `N validation error(s) detected: Value '<v>' at '<member>' failed to satisfy constraint: Member must ...`.
 * Constraint texts come from the schema messages (write them as "Member must ...").
 */
export function parseInput<T extends z.ZodType>(
  schema: T,
  input: Record<string, unknown>,
  /** Top-level members whose values are never echoed (plaintexts, keys). */
  sensitive: readonly string[] = [],
): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const member = memberPath(issue.path);
    const value = valueAt(input, issue.path);
    const hidden = typeof issue.path[0] === 'string' && sensitive.includes(issue.path[0]);
    const shown =
      value === undefined || value === null
        ? 'null'
        : hidden
          ? '[sensitive]'
          : `'${truncate(displayValue(value))}'`;
    const constraint =
      issue.code === 'invalid_type' && (value === undefined || value === null)
        ? 'Member must not be null'
        : issue.message;
    return `Value ${shown} at '${member}' failed to satisfy constraint: ${constraint}`;
  });
  const count = issues.length;
  throw new ServiceError(
    'ValidationException',
    `${count} validation error${count === 1 ? '' : 's'} detected: ${issues.join('; ')}`,
  );
}

/** A blob member: base64 text in JSON, a byte string in CBOR; always a Buffer after parsing. */
export function blob(options: { minBytes?: number; maxBytes?: number } = {}) {
  return z
    .union([z.string(), z.instanceof(Uint8Array)], { message: 'Member must be a blob (base64 in JSON)' })
    .transform((value, ctx) => {
      let bytes: Buffer;
      if (typeof value === 'string') {
        bytes = Buffer.from(value, 'base64');
        // Node skips characters that are not base64, so a foreign character shows as a short decode.
        if (value.length % 4 !== 0 || bytes.length !== base64DecodedLength(value)) {
          ctx.addIssue({ code: 'custom', message: 'Member must be valid base64' });
          return z.NEVER;
        }
      } else {
        bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      }
      if (options.minBytes !== undefined && bytes.length < options.minBytes) {
        ctx.addIssue({
          code: 'custom',
          message: `Member must have length greater than or equal to ${options.minBytes}`,
        });
      }
      if (options.maxBytes !== undefined && bytes.length > options.maxBytes) {
        ctx.addIssue({
          code: 'custom',
          message: `Member must have length less than or equal to ${options.maxBytes}`,
        });
      }
      return bytes;
    });
}

/** Bytes that well-formed, padded base64 text decodes to. */
function base64DecodedLength(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

/** A string member with AWS length constraints. */
export function str(minLength: number, maxLength: number) {
  return z
    .string({ message: 'Member must be a string' })
    .min(minLength, `Member must have length greater than or equal to ${minLength}`)
    .max(maxLength, `Member must have length less than or equal to ${maxLength}`);
}

/** An integer member with AWS range constraints. */
export function int(min: number, max: number) {
  return z
    .number({ message: 'Member must be a number' })
    .int('Member must be an integer')
    .min(min, `Member must have value greater than or equal to ${min}`)
    .max(max, `Member must have value less than or equal to ${max}`);
}

/** A member limited to a fixed set of values. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { message: `Member must satisfy enum value set: [${values.join(', ')}]` });
}

/** AWS spells member paths lower-camel with 1-based list indexes: `records.1.member.data`. */
function memberPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `${p + 1}.member` : lowerFirst(String(p)))).join('.');
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function displayValue(value: unknown): string {
  if (value instanceof Uint8Array) return `java.nio.HeapByteBuffer[len=${value.length}]`;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function truncate(text: string): string {
  return text.length > 256 ? `${text.slice(0, 256)}…` : text;
}
