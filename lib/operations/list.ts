import { notImplemented } from "./stub.ts";

export const list = notImplemented("list");
