import { VoicebotError } from '../errors.js';

/**
 * Reads typed values from an environment snapshot and collects every problem, so that a bad
 * configuration is reported once, naming each variable, instead of failing on the first one.
 */
export class EnvReader {
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #problems: string[] = [];

  constructor(env: Readonly<Record<string, string | undefined>>) {
    this.#env = env;
  }

  /** The raw value, with empty strings treated as unset. */
  raw(name: string): string | undefined {
    const value = this.#env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    return this.#number(name, fallback, range, true);
  }

  number(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    return this.#number(name, fallback, range, false);
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
    if (['0', 'false', 'no', 'off'].includes(lower)) return false;
    this.problem(name, `expected true or false, got "${value}"`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problem(name, `expected one of ${allowed.join(', ')}, got "${value}"`);
    return fallback;
  }

  /** A comma-separated list; blanks are dropped. */
  list(name: string, fallback: readonly string[] = []): string[] {
    const value = this.raw(name);
    if (value === undefined) return [...fallback];
    return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }

  url(name: string, fallback: string | undefined, protocols: readonly string[]): string | undefined {
    const value = this.raw(name) ?? fallback;
    if (value === undefined) return undefined;
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) {
        this.problem(name, `expected a ${protocols.join(' or ')} URL, got "${parsed.protocol}"`);
      }
    } catch {
      this.problem(name, `not a valid URL`);
    }
    return value;
  }

  /** Records a problem with a variable; `finish()` reports them all at once. */
  problem(name: string, what: string): void {
    this.#problems.push(`${name}: ${what}`);
  }

  /** Throws one error listing every problem found, if any. */
  finish(): void {
    if (this.#problems.length > 0) {
      throw new VoicebotError('config_invalid', `invalid configuration:\n  ${this.#problems.join('\n  ')}`);
    }
  }

  #number(name: string, fallback: number, range: { min?: number; max?: number }, integer: boolean): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed))) {
      this.problem(name, `expected ${integer ? 'an integer' : 'a number'}, got "${value}"`);
      return fallback;
    }
    if (range.min !== undefined && parsed < range.min) {
      this.problem(name, `must be >= ${range.min}, got ${parsed}`);
      return fallback;
    }
    if (range.max !== undefined && parsed > range.max) {
      this.problem(name, `must be <= ${range.max}, got ${parsed}`);
      return fallback;
    }
    return parsed;
  }
}
