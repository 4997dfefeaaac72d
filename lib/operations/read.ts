import { notImplemented } from "./stub.ts";

export const read = notImplemented("read");
