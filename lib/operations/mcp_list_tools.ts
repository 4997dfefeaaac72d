import { notImplemented } from "./stub.ts";

export const mcp_list_tools = notImplemented("mcp_list_tools");
