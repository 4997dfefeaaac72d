/**
 * A tool result's content as the one text the platform gets (docs/protocol.md:
 * text parts joined with "\n", an image part is `[Image: <mime>]`). Parts
 * the reference drops silently are described briefly instead, so the model
 * knows something was there.
 */
import { isObject } from "../wire/protocol.ts";

export function renderContent(result: { content?: unknown; structuredContent?: unknown }): string {
  const parts = Array.isArray(result.content) ? result.content : [];
  if (parts.length === 0 && result.structuredContent !== undefined) {
    // A tool with an output schema may answer only in structured form.
    return JSON.stringify(result.structuredContent);
  }
  return parts.map(renderPart).join("\n");
}

function renderPart(part: unknown): string {
  if (!isObject(part)) return "[unreadable content part]";
  const s = (v: unknown) => (typeof v === "string" ? v : "");
  switch (part.type) {
    case "text":
      return s(part.text);
    case "image":
      return `[Image: ${s(part.mimeType)}]`;
    case "audio":
      return `[Audio: ${s(part.mimeType)}]`;
    case "resource_link":
      return `[Resource link: ${s(part.uri)}${part.name ? ` (${s(part.name)})` : ""}]`;
    case "resource": {
      const r = isObject(part.resource) ? part.resource : {};
      const mime = r.mimeType ? `, ${s(r.mimeType)}` : "";
      // An embedded text resource is content the tool meant to return: keep its text.
      if (typeof r.text === "string") return `[Resource: ${s(r.uri)}${mime}]\n${r.text}`;
      const size = typeof r.blob === "string" ? `, ${Math.floor(r.blob.length * 3 / 4)} bytes` : "";
      return `[Resource: ${s(r.uri)}${mime}${size}]`;
    }
    default:
      return `[${typeof part.type === "string" ? part.type : "unknown"} content]`;
  }
}
