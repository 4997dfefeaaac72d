import { ArchiveError } from "./archive_error.ts";

const MAX_COMPONENT_BYTES = 255;
const MAX_PATH_BYTES = 1024;

/**
 * An entry name made safe to join below the skill directory: `/`-separated
 * components, none of them empty, `.` or `..`. Everything that could reach
 * outside, or mean something else on another OS, is refused rather than
 * repaired: `..`, absolute paths, drive letters, backslashes (a separator on
 * Windows), colons (drive letters and NTFS streams), control characters.
 */
export function safeEntryPath(name: string): string[] {
  const quoted = JSON.stringify(name);
  const refuse = (why: string): never => {
    throw new ArchiveError(`entry ${quoted}: ${why}`);
  };
  if (name === "") refuse("empty name");
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) refuse("control character in the name");
  if (name.includes("\\")) refuse("backslash in the name (a path separator on Windows)");
  if (/^[a-zA-Z]:/.test(name)) refuse("absolute path (drive letter)");
  if (name.startsWith("/")) refuse("absolute path");
  if (name.includes(":")) refuse("colon in the name (drive letter or NTFS stream)");
  if (new TextEncoder().encode(name).length > MAX_PATH_BYTES) refuse("name too long");
  const parts = name.replace(/\/$/, "").split("/");
  for (const part of parts) {
    if (part === "..") refuse("path escapes the skill directory (..)");
    if (part === "" || part === ".") refuse("empty or `.` path component");
    if (new TextEncoder().encode(part).length > MAX_COMPONENT_BYTES) {
      refuse("path component too long");
    }
  }
  return parts;
}

/**
 * The key two names collide under: Unicode NFC (macOS writes NFD) and case
 * folded (macOS and Windows file systems ignore case by default), so an
 * archive cannot smuggle two entries onto one file anywhere it is extracted.
 */
export function collisionKey(parts: string[]): string {
  return parts.map((p) => p.normalize("NFC").toLowerCase()).join("/");
}
