/** Hedged synthesis: a fallback synthesizer started when the primary fails or stays silent too long. */
import { isAbortError, VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { noopObserver, type Observer } from '../metrics/observer.js';
import type { Tts, TtsRequest } from './tts.js';

/** How long the primary may stay silent, and where hedges and fallbacks are reported. */
export interface HedgeOptions {
  /** Milliseconds without audio from the primary before the fallback starts alongside it. */
  hedgeMs: number;
  log: Logger;
  observer?: Observer;
  /** Name reported to the observer; `tts` unless given. */
  name?: string;
}

type Side = 'primary' | 'fallback';

type Outcome =
  | { side: Side; result: IteratorResult<Buffer> }
  | { side: Side; error: unknown }
  | { side: 'timer' };

interface Runner {
  controller: AbortController;
  iterator: AsyncIterator<Buffer>;
  pending: Promise<Outcome> | undefined;
  error?: unknown;
}

/**
 * A Tts that plays exactly one of two synthesizers per chunk: the primary, or the fallback when
 * the primary fails before any audio or has produced none within `hedgeMs` (then both run and the
 * first to produce audio wins; the other is aborted). Once a side has yielded audio there is no
 * switching: its later failure ends the chunk with that error.
 */
export function createHedgedTts(primary: Tts, fallback: Tts, options: HedgeOptions): Tts {
  const log = options.log.child({ provider: 'tts-hedge' });
  const observer = options.observer ?? noopObserver;
  const name = options.name ?? 'tts';

  return {
    async *synthesize(text: string, request: TtsRequest): AsyncIterable<Buffer> {
      const { signal, sampleRate } = request;
      if (signal.aborted) return;
      const start = (tts: Tts, side: Side): Runner => {
        const controller = new AbortController();
        const iterator = tts.synthesize(text, { sampleRate, signal: AbortSignal.any([signal, controller.signal]) })[Symbol.asyncIterator]();
        const runner: Runner = { controller, iterator, pending: undefined };
        runner.pending = pull(runner, side);
        return runner;
      };
      const runners: Partial<Record<Side, Runner>> = { primary: start(primary, 'primary') };
      let timer: NodeJS.Timeout | undefined;
      let timerFired: Promise<Outcome> | undefined = new Promise<Outcome>((resolve) => {
        timer = setTimeout(() => resolve({ side: 'timer' }), options.hedgeMs);
      });
      let hedged = false;
      let winner: Side | undefined;
      let first: Buffer | undefined;
      let onAbort = (): void => {};
      const aborted = new Promise<undefined>((resolve) => {
        onAbort = () => resolve(undefined);
        signal.addEventListener('abort', onAbort, { once: true });
      });

      try {
        while (winner === undefined) {
          const sides = [runners.primary?.pending, runners.fallback?.pending].filter((p) => p !== undefined);
          if (sides.length === 0) break;
          const waiting = timerFired === undefined ? sides : [...sides, timerFired];
          const outcome = await Promise.race([...waiting, aborted]);
          if (outcome === undefined || signal.aborted) return;

          if (outcome.side === 'timer') {
            timerFired = undefined;
            if (runners.fallback === undefined && runners.primary?.pending !== undefined) {
              hedged = true;
              log.info({ hedgeMs: options.hedgeMs }, 'primary slow, hedging with fallback');
              runners.fallback = start(fallback, 'fallback');
            }
            continue;
          }

          const runner = runners[outcome.side]!;
          if ('error' in outcome) {
            runner.pending = undefined;
            runner.error = outcome.error;
            if (outcome.side === 'primary' && runners.fallback === undefined) {
              observer.fallback(name);
              log.debug({ code: errorCode(outcome.error) }, 'primary failed before audio, using fallback');
              runners.fallback = start(fallback, 'fallback');
            }
            continue;
          }
          if (outcome.result.done === true) {
            // Finished without audio and without error (nothing to say): that side has spoken.
            winner = outcome.side;
            break;
          }
          if (outcome.result.value.length === 0) {
            runner.pending = pull(runner, outcome.side);
            continue;
          }
          winner = outcome.side;
          first = outcome.result.value;
        }
        clearTimeout(timer);

        if (winner === undefined) {
          // Both sides failed: one error for the caller to log, the primary's as its cause.
          const last = asTtsError(runners.fallback?.error ?? runners.primary?.error);
          const primary = runners.primary?.error;
          throw primary === undefined || runners.fallback?.error === undefined
            ? last
            : new VoicebotError(last.code, `both synthesizers failed: ${asTtsError(primary).message}; then ${last.message}`, { cause: primary });
        }
        if (winner === 'fallback' && runners.primary?.error !== undefined) {
          log.warn({ err: runners.primary.error, code: errorCode(runners.primary.error) }, 'primary synthesizer failed; the fallback answered');
        }
        const loser: Side = winner === 'primary' ? 'fallback' : 'primary';
        stop(runners[loser]);
        runners[loser] = undefined;
        if (hedged) observer.hedge(name, winner);
        if (first === undefined) return;
        yield first;

        const iterator = runners[winner]!.iterator;
        for (;;) {
          let result: IteratorResult<Buffer>;
          try {
            result = await iterator.next();
          } catch (err) {
            if (signal.aborted) return;
            log.debug({ side: winner, code: errorCode(err) }, 'synthesis failed after audio started');
            throw asTtsError(err);
          }
          if (result.done === true || signal.aborted) return;
          if (result.value.length > 0) yield result.value;
        }
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        stop(runners.primary);
        stop(runners.fallback);
      }
    },
  };
}

function pull(runner: Runner, side: Side): Promise<Outcome> {
  return runner.iterator.next().then(
    (result) => ({ side, result }),
    (error: unknown) => ({ side, error }),
  );
}

/** Aborts a side and lets its generator run its cleanup; nothing it produces is played. */
function stop(runner: Runner | undefined): void {
  if (runner === undefined) return;
  runner.controller.abort();
  runner.iterator.return?.().catch(() => {});
}

function errorCode(err: unknown): string {
  return err instanceof VoicebotError ? err.code : isAbortError(err) ? 'aborted' : 'unknown';
}

function asTtsError(err: unknown): VoicebotError {
  if (err instanceof VoicebotError) return err;
  return new VoicebotError('tts_failed', `synthesis failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
