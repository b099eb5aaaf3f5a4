import cliProgress from 'cli-progress';

/**
 * A progress display: a bar on a terminal, a line every few seconds otherwise (logs, CI).
 * Values are preformatted strings so the two forms print the same things.
 */
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private lastLine = 0;
  constructor(private readonly label: string, private readonly total: number, private readonly enabled = true) {
    if (enabled && process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar({
        format: `${label} [{bar}] {percentage}% | {info} | ETA {eta_formatted}`,
        stream: process.stderr, hideCursor: true, etaBuffer: 50, fps: 5,
      }, cliProgress.Presets.shades_classic);
      this.bar.start(total, 0, { info: '' });
    }
  }

  update(done: number, info: string): void {
    if (this.bar) { this.bar.update(Math.min(done, this.total), { info }); return; }
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastLine >= 5000 || done >= this.total) {
      this.lastLine = now;
      process.stderr.write(`${this.label} ${Math.round((100 * Math.min(done, this.total)) / this.total)}% | ${info}\n`);
    }
  }

  /** Prints a message without breaking the bar. */
  log(message: string): void {
    if (this.bar) { process.stderr.write('\r\x1b[K' + message + '\n'); this.bar.render?.(); } else process.stderr.write(message + '\n');
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
