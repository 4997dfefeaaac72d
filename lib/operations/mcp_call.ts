import { notImplemented } from "./stub.ts";

export const mcp_call = notImplemented("mcp_call");
