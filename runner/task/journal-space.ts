/**
 * Room on the journal's disk. A journal write that fails because the disk is full
 * (`SQLITE_FULL`, `ENOSPC`) is kept to run again instead of throwing, and the disk counts as
 * full. While it is, the kept writes run again every `retryMs` (doubling up to `maxRetryMs`),
 * oldest first; a later write under the same key takes the place of the kept one (a row
 * written whole from memory, a cumulative ack, the held events of an outbox). With nothing
 * kept, a probe write tells whether there is room. The first round in which every kept write
 * and the probe go through ends it. The owner hears both moments (the daemon stops taking
 * tasks, says why, and takes them again).
 */
import type { Logger } from "pino";

/** A write failed for want of room on the disk. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_FULL" || code === "ENOSPC";
}

export interface JournalSpaceOptions {
  retryMs?: number;
  maxRetryMs?: number;
  /** The disk became full (with why), or has room again (null). */
  changed?(reason: string | null): void;
}

const RETRY_MS = 1000;
const MAX_RETRY_MS = 5000;

export class JournalSpace {
  private readonly kept = new Map<string, () => void>();
  private fullReason: string | null = null;
  private delay = RETRY_MS;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** A small write to the journal: it goes through when there is room. */
    private readonly probe: () => void,
    private readonly log: Logger,
    private readonly opts: JournalSpaceOptions = {},
  ) {}

  get isFull(): boolean {
    return this.fullReason !== null;
  }

  /** Why the runner writes nothing new to its journal, while the disk is full. */
  get reason(): string | null {
    return this.fullReason;
  }

  /**
   * Runs `write` now, or keeps it under `key` when the disk is full (then false). A write
   * under a key already kept is not tried now: it takes that one's place, in its turn.
   * Errors other than a full disk are thrown.
   */
  write(key: string, write: () => void): boolean {
    if (this.kept.has(key)) {
      this.kept.set(key, write);
      return false;
    }
    try {
      write();
      return true;
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      this.kept.set(key, write);
      this.full(err);
      return false;
    }
  }

  /** A write the caller handles itself failed; when for want of room, the disk counts as full. */
  noteFailure(err: unknown): void {
    if (isDiskFull(err)) this.full(err);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private full(err: unknown): void {
    if (this.fullReason === null) {
      this.fullReason = `the journal's disk is full (${(err as { code?: string }).code})`;
      this.delay = this.opts.retryMs ?? RETRY_MS;
      this.log.error({ err }, "the journal's disk is full: the runner takes no new tasks and holds what it has to write until there is room");
      this.opts.changed?.(this.fullReason);
    }
    this.arm();
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.retry(), this.delay);
    this.timer.unref();
  }

  private retry(): void {
    this.timer = undefined;
    for (const [key, write] of this.kept) {
      try {
        write();
        this.kept.delete(key);
      } catch (err) {
        if (isDiskFull(err)) return this.again();
        this.kept.delete(key);
        this.log.error({ err, key }, "a journal write kept for room failed otherwise; it is dropped");
      }
    }
    try {
      this.probe();
    } catch (err) {
      if (!isDiskFull(err)) this.log.error({ err }, "the journal's probe write failed");
      return this.again();
    }
    this.fullReason = null;
    this.log.info("the journal's disk has room again: the runner takes tasks again");
    this.opts.changed?.(null);
  }

  private again(): void {
    this.delay = Math.min(this.delay * 2, this.opts.maxRetryMs ?? MAX_RETRY_MS);
    this.arm();
  }
}
