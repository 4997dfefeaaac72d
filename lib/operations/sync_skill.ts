import { notImplemented } from "./stub.ts";

export const sync_skill = notImplemented("sync_skill");
