const TRUNCATED = ' …[truncated]';

/** Text cut to at most `maxChars` characters, marked as cut, never inside a surrogate pair. */
export function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let cut = text.slice(0, Math.max(0, maxChars - TRUNCATED.length));
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut + TRUNCATED;
}

/**
 * What the model reads of an HTTP answer: the selected fields of a JSON answer (as a JSON object
 * keyed by path), else the whole JSON compacted, else the text; cut to `maxChars`.
 */
export function responseText(body: string, options: { fields?: readonly string[] | undefined; maxChars: number }): string {
  const json = parseJson(body);
  if (json === undefined) return truncate(body.trim() === '' ? '(empty answer)' : body.trim(), options.maxChars);
  if (options.fields !== undefined) {
    const selected = selectFields(json, options.fields);
    if (Object.keys(selected).length > 0) return truncate(JSON.stringify(selected), options.maxChars);
  }
  return truncate(JSON.stringify(json), options.maxChars);
}

/** The values at dotted paths (`eta`, `items.0.name`), keyed by path; absent paths are left out. */
export function selectFields(value: unknown, paths: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of paths) {
    let current: unknown = value;
    for (const key of path.split('.')) {
      if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) {
        current = undefined;
        break;
      }
      current = (current as Record<string, unknown>)[key];
    }
    if (current !== undefined) Object.defineProperty(out, path, { value: current, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function parseJson(body: string): unknown {
  const text = body.trim();
  if (text === '' || !/^[[{"\d-]|^(true|false|null)$/.test(text)) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
