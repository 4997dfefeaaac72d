import { notImplemented } from "./stub.ts";

export const glob = notImplemented("glob");
