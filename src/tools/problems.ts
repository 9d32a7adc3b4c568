import type { z } from 'zod';

/** One thing wrong with a declaration, at a path such as `[0].headers.Authorization`. */
export interface Problem {
  path: string;
  message: string;
}

/** A path as `[0].url`: indices in brackets, keys after dots. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('').replace(/^\./, '');
}

/** The issues of a failed zod parse as problems, under `base`. */
export function zodProblems(error: z.ZodError, base: readonly PropertyKey[] = []): Problem[] {
  return error.issues.map((issue) => ({ path: formatPath([...base, ...issue.path]), message: issue.message }));
}

/**
 * Validates a declared list item by item against `schema`: a missing list is empty, anything but a
 * list is one problem, each item's problems are under its index, and a name declared twice is a
 * problem. `each` gets every valid entry, a path maker for its keys, and `clean()`: true while the
 * entry has no problem (its own are added to `problems`).
 */
export function forEachNamedEntry<S extends z.ZodType<{ name: string }>>(
  raw: unknown,
  schema: S,
  what: { list: string; item: string },
  problems: Problem[],
  each: (entry: z.output<S>, at: (key: string) => string, clean: () => boolean) => void,
): void {
  if (raw === undefined || raw === null) return;
  if (!Array.isArray(raw)) {
    problems.push({ path: '', message: `expected a list of ${what.list}` });
    return;
  }
  const seen = new Set<string>();
  raw.forEach((item, index) => {
    const parsed = schema.safeParse(item);
    if (!parsed.success) {
      problems.push(...zodProblems(parsed.error, [index]));
      return;
    }
    const entry = parsed.data;
    const at = (key: string) => `[${index}].${key}`;
    const before = problems.length;
    if (seen.has(entry.name)) problems.push({ path: at('name'), message: `${what.item} named "${entry.name}" is already declared` });
    seen.add(entry.name);
    each(entry, at, () => problems.length === before);
  });
}
