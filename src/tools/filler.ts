/**
 * Resolves or rejects like `work`; calls `onFiller` once if `work` is still pending after
 * `delayMs` (never after `signal` aborts). A failing `onFiller` does not affect `work`.
 */
export function withFiller<T>(work: Promise<T>, delayMs: number, onFiller: () => unknown, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) return work;
  const timer = setTimeout(() => {
    if (signal?.aborted) return;
    Promise.resolve()
      .then(onFiller)
      .catch(() => {});
  }, delayMs);
  const cancel = () => clearTimeout(timer);
  signal?.addEventListener('abort', cancel, { once: true });
  return work.finally(() => {
    cancel();
    signal?.removeEventListener('abort', cancel);
  });
}
