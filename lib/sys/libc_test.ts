import { expect } from "../../tests/deps.ts";
import { libcPath, openLibc } from "./libc.ts";

Deno.test({
  name: "libc: a raw system call answers, and errno reads back through memcpy",
  ignore: Deno.build.os !== "linux",
  fn() {
    expect(libcPath()).toMatch(/libc\.so\.6$/);
    const libc = openLibc({
      getpid: { name: "syscall", parameters: ["i64"], result: "i64" },
      close: { parameters: ["i32"], result: "i32" },
    });
    try {
      expect(Number(libc.symbols.getpid(39n))).toBe(Deno.pid); // SYS_getpid on x86_64
      expect(libc.symbols.close(-1)).toBe(-1);
      expect(libc.errno()).toBe(9); // EBADF
    } finally {
      libc.close();
    }
  },
});
