/**
 * Keeps the head and the tail of a long output and counts what falls between, so a model
 * sees how a command started and how it ended, and is told how much was cut.
 */
export class OutputCap {
  private head = "";
  private tail = "";
  private cut = 0;

  constructor(
    private readonly headChars = 12_000,
    private readonly tailChars = 12_000,
  ) {}

  add(text: string): void {
    if (this.head.length < this.headChars) {
      const room = this.headChars - this.head.length;
      this.head += text.slice(0, room);
      text = text.slice(room);
    }
    if (text === "") return;
    this.tail += text;
    if (this.tail.length > this.tailChars) {
      this.cut += this.tail.length - this.tailChars;
      this.tail = this.tail.slice(this.tail.length - this.tailChars);
    }
  }

  get truncated(): boolean {
    return this.cut > 0;
  }

  text(): string {
    if (this.cut === 0) return this.head + this.tail;
    return `${this.head}\n[... ${this.cut} characters cut from the middle of the output ...]\n${this.tail}`;
  }
}
