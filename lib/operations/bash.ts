import { notImplemented } from "./stub.ts";

export const bash = notImplemented("bash");
