/** What the server runs for each call: the contract between the AudioSocket servers and a pipeline. */
import type { AudioSocketCall, CallHandler } from './audiosocket/server.js';

/** What the AudioSocket servers run for each call, and how to end calls politely. */
export interface App {
  readonly mode: 'echo' | 'conversation';
  /** Runs a call that came in on AUDIOSOCKET_PORT. */
  onCall: CallHandler;
  /** The extra AudioSocket ports of agents that have their own (no ARI needed to pick them). */
  readonly agentPorts: readonly number[];
  /** Runs a call that came in on `port`. */
  onCallAt(port: number): CallHandler;
  /** Ends one call with a short goodbye (drain). */
  goodbye(call: AudioSocketCall): Promise<void>;
  /** Settles once every agent's greeting is synthesized (or failed and logged): a call can be greeted at once. */
  readonly greetingsReady: Promise<void>;
  /** Not ready while a required provider is known to be down. */
  readiness(): { ready: boolean; reasons: string[] };
  /** Finishes what ended calls left behind (Asterisk globals still to delete); the drain's last step. */
  close?(): Promise<void>;
}
