import { notImplemented } from "./stub.ts";

export const webfetch = notImplemented("webfetch");
