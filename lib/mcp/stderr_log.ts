import type { Logger } from "../deps.ts";

/** Lines logged per session before the rest is only counted. */
const MAX_LOGGED_LINES = 200;
/** Longest line logged (and kept in the tail). */
const MAX_LINE_CHARS = 500;
/** Lines kept for error messages. */
const TAIL_LINES = 10;

/**
 * A stdio MCP server's stderr: drained continuously (a full pipe would stall
 * the server), logged at debug within bounds (a chatty or hostile server
 * cannot flood the runner's log), and its last lines kept so a server that
 * dies at start-up can say why.
 */
export class StderrLog {
  private readonly decoder = new TextDecoder();
  private partial = "";
  private logged = 0;
  private readonly last: string[] = [];

  constructor(private readonly log: Logger, private readonly server: string) {}

  write(chunk: Uint8Array): void {
    const text = this.partial + this.decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    // An endless line must not grow without bound either.
    this.partial = lines.pop()!.slice(0, MAX_LINE_CHARS);
    for (const line of lines) this.line(line);
  }

  /** The last lines, joined with " | ", for an error message. */
  tail(): string {
    const lines = this.partial ? [...this.last, this.partial] : this.last;
    return lines.slice(-TAIL_LINES).join(" | ");
  }

  private line(raw: string): void {
    const line = raw.replace(/\r$/, "").slice(0, MAX_LINE_CHARS);
    if (line.trim() === "") return;
    this.last.push(line);
    if (this.last.length > TAIL_LINES) this.last.shift();
    if (this.logged < MAX_LOGGED_LINES) {
      this.logged++;
      this.log.debug("MCP server {server} stderr: {line}", { server: this.server, line });
      if (this.logged === MAX_LOGGED_LINES) {
        this.log.debug("MCP server {server}: further stderr lines are not logged", {
          server: this.server,
        });
      }
    }
  }
}
