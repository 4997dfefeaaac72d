import { notImplemented } from "./stub.ts";

export const grep = notImplemented("grep");
