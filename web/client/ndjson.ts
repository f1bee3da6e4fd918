/**
 * NDJSON read from a byte stream: bytes arrive in chunks cut anywhere (inside a line, inside a
 * UTF-8 character), so a splitter keeps the unfinished tail until its newline comes. Blank lines
 * (a server's keep-alives) are skipped.
 *
 * @example
 * const lines = new LineSplitter();
 * lines.push(encoder.encode('{"a":1}\n{"b"')); // ['{"a":1}']
 * lines.push(encoder.encode(":2}\n"));         // ['{"b":2}']
 */
export class LineSplitter {
  private readonly decoder = new TextDecoder();
  private tail = "";

  /** The whole, non-blank lines this chunk finished (without their newline). */
  push(chunk: Uint8Array): string[] {
    const text = this.tail + this.decoder.decode(chunk, { stream: true });
    const parts = text.split("\n");
    this.tail = parts.pop() ?? "";
    return parts.map((line) => line.trim()).filter((line) => line !== "");
  }

  /** What was left without a newline when the stream ended ("" when nothing). */
  rest(): string {
    const text = (this.tail + this.decoder.decode()).trim();
    this.tail = "";
    return text;
  }
}
