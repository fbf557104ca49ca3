// Taking turns among the nodes of a cluster database that write at once: which nodes a node has
// heard writing lately, and whose turn it is to append the message at a given stream sequence
// (round robin by sequence over the writers sorted by id). Turns only set when a node tries: the
// conditional append still decides the order, so nodes that disagree on the writers merely race.

/** The least and most a node waits for a message whose turn is another node's (ms). */
export const PATIENCE_MS = { min: 20, max: 100 };

export class Turns {
  /** When each other writer was last heard (ms). */
  private readonly heard = new Map<string, number>();
  /** A moving average of the time between the stream's messages while they come one after another (ms). */
  private messageGapMs = PATIENCE_MS.min / 3;
  private lastMessageAt: number | undefined;

  constructor(
    readonly self: string,
    /** How long a writer counts after it was last heard (ms). */
    private readonly windowMs: number,
  ) {}

  /** Another node said it writes (it lost a race or landed a message while taking turns). */
  hear(id: string, now: number): void {
    if (id !== this.self && id !== '') this.heard.set(id, now);
  }

  /** Another node said it stopped writing. */
  forget(id: string): void {
    this.heard.delete(id);
  }

  /** The writers this node knows of, itself included, sorted by id. */
  writers(now: number): string[] {
    for (const [id, at] of this.heard) if (now - at >= this.windowMs) this.heard.delete(id);
    return [this.self, ...this.heard.keys()].sort();
  }

  /** Whether other nodes write at once with this one. */
  contended(now: number): boolean {
    return this.writers(now).length > 1;
  }

  /** Whether the message at stream sequence `seq` is this node's to append. */
  isMine(seq: number, now: number): boolean {
    const writers = this.writers(now);
    return writers[seq % writers.length] === this.self;
  }

  /** `count` messages of the stream were indexed at `now`: they tell how fast turns go round. */
  noteMessages(count: number, now: number): void {
    const gap = this.lastMessageAt === undefined ? undefined : (now - this.lastMessageAt) / Math.max(1, count);
    this.lastMessageAt = now;
    // a pause in the writes says nothing of how long a turn takes
    if (gap !== undefined && gap < PATIENCE_MS.max) this.messageGapMs = 0.8 * this.messageGapMs + 0.2 * gap;
  }

  /**
   * How long to wait for the message of another node's turn before sending out of turn (a race
   * the conditional append decides): a few times the recent gap between messages, so a loaded
   * machine does not take turns out of order, and a writer that stopped or died costs little.
   */
  patienceMs(): number {
    return Math.min(PATIENCE_MS.max, Math.max(PATIENCE_MS.min, 3 * this.messageGapMs));
  }
}
