import { notImplemented } from "./stub.ts";

export const write = notImplemented("write");
