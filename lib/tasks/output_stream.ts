import type { TaskOutputPayload } from "../wire/protocol.ts";

/**
 * Turns a command's many small chunks into few `task.output` frames: a
 * stream is flushed when it holds `maxChars` or when its oldest unsent chunk
 * is `maxDelayMs` old, and always before the task's result goes out.
 */
export class OutputCoalescer {
  private buffers: Record<"stdout" | "stderr", string> = { stdout: "", stderr: "" };
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly taskId: string,
    private readonly emit: (payload: TaskOutputPayload) => void,
    private readonly maxDelayMs = 50,
    private readonly maxChars = 32 * 1024,
  ) {}

  write(stream: "stdout" | "stderr", data: string): void {
    if (data === "") return;
    this.buffers[stream] += data;
    if (this.buffers[stream].length >= this.maxChars) this.flushStream(stream);
    else this.timer ??= setTimeout(() => this.flush(), this.maxDelayMs);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushStream("stdout");
    this.flushStream("stderr");
  }

  private flushStream(stream: "stdout" | "stderr"): void {
    const data = this.buffers[stream];
    if (data === "") return;
    this.buffers[stream] = "";
    this.emit({ task_id: this.taskId, stream, data });
  }
}
