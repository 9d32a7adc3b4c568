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
