import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** Checks (and coerces) a tool call's arguments against the tool's JSON Schema. */
export type ArgumentsValidator = (args: unknown) => { ok: true; value: Record<string, unknown> } | { ok: false; message: string };

const OPTIONS = { strict: false, allErrors: true, coerceTypes: true, useDefaults: true, validateFormats: false, logger: false } as const;
let draft07: Ajv | undefined;
let draft2020: Ajv2020 | undefined;
/** Compiled validators by schema text: a refreshed tool list compiles nothing it already had. */
const compiled = new Map<string, ArgumentsValidator>();

/** The validator of a parameters schema; throws with a readable message when the schema is broken. */
export function compileArguments(schema: Readonly<Record<string, unknown>>): ArgumentsValidator {
  if (schema.type !== 'object') throw new Error('parameters must be a JSON Schema of "type": "object"');
  const key = JSON.stringify(schema);
  const known = compiled.get(key);
  if (known !== undefined) return known;
  const { $schema, $id: _id, ...rest } = schema;
  // MCP's default dialect is 2020-12; draft-07 is what most hand-written schemas follow, and both read alike.
  const ajv = typeof $schema === 'string' && /draft-0[4-7]/.test($schema)
    ? (draft07 ??= new Ajv(OPTIONS))
    : (draft2020 ??= new Ajv2020(OPTIONS));
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(rest);
  } catch (err) {
    throw new Error(`parameters are not a valid JSON Schema: ${(err as Error).message}`);
  }
  const validator: ArgumentsValidator = (args) => {
    const value = structuredClone(args);
    if (validate(value)) return { ok: true, value: value as Record<string, unknown> };
    return { ok: false, message: ajv.errorsText(validate.errors, { dataVar: 'arguments' }) };
  };
  compiled.set(key, validator);
  return validator;
}

/** The parameters schema as the model is shown it. */
export function offeredSchema(schema: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/** Tool-call arguments text as an object: the empty string is `{}`, anything but an object is refused. */
export function parseArgumentsJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  if (text.trim() === '') return { ok: true, value: {} };
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, message: 'the arguments must be a JSON object' };
    return { ok: true, value };
  } catch {
    return { ok: false, message: 'the arguments are not valid JSON' };
  }
}
