/**
 * How a recognizer session takes caller audio: frame by frame as it is pushed where the source
 * allows it (no promise and no await per 20 ms frame), by iterating it otherwise.
 */

/** Receives a source's frames as they come, then its end or its failure. */
export interface FrameListener {
  frame(frame: Buffer): void;
  end(): void;
  fail(err: unknown): void;
}

/**
 * Caller audio that hands over its frames synchronously: after `subscribe`, the queued frames and
 * then each new one go to the listener as they are pushed, and the end once. The returned function
 * stops the feed. Iterating it instead works as for any audio source.
 */
export interface FrameFeed extends AsyncIterable<Buffer> {
  subscribe(listener: Omit<FrameListener, 'fail'>): () => void;
}

function isFrameFeed(audio: AsyncIterable<Buffer>): audio is FrameFeed {
  return typeof (audio as Partial<FrameFeed>).subscribe === 'function';
}

/** Feeds `audio` to `listener`, subscribing where it can; the returned function stops the feed. */
export function feedFrames(audio: AsyncIterable<Buffer>, listener: FrameListener): () => void {
  if (isFrameFeed(audio)) {
    return audio.subscribe({
      frame(frame) {
        try {
          listener.frame(frame);
        } catch (err) {
          listener.fail(err);
        }
      },
      end: () => listener.end(),
    });
  }
  const frames = audio[Symbol.asyncIterator]();
  let stopped = false;
  void (async () => {
    try {
      for (;;) {
        const next = await frames.next();
        if (stopped) return;
        if (next.done === true) break;
        listener.frame(next.value);
      }
      listener.end();
    } catch (err) {
      if (!stopped) listener.fail(err);
    }
  })();
  return () => {
    if (stopped) return;
    stopped = true;
    frames.return?.().catch(() => {});
  };
}
