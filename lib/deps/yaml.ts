// The config file's parser (lib/config.ts); the supervised runner child loads it only to reload.
export { parse as parseYaml, parseDocument as parseYamlDocument } from "npm:yaml@2.9.1";
