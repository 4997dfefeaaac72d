// An idle bare Deno process: the floor for idle RSS. Run as `deno run bench/idle.ts`.
setInterval(() => {}, 1 << 30);
