// The command a desktop host would run for an unpacked bundle: @anthropic-ai/mcpb's own
// getMcpConfigForManifest (the code Claude Desktop uses), given the folder and the user's settings.
// Usage: node mcp_config.mjs '{"extensionPath": ..., "userConfig": {...}, "systemDirs": {...}}'
import { readFileSync } from "node:fs";
import { join, sep } from "node:path";
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";

const options = JSON.parse(process.argv[2]);
const manifest = JSON.parse(readFileSync(join(options.extensionPath, "manifest.json"), "utf-8"));
const config = await getMcpConfigForManifest({
  manifest,
  extensionPath: options.extensionPath,
  systemDirs: options.systemDirs,
  userConfig: options.userConfig,
  pathSeparator: sep,
});
process.stdout.write(JSON.stringify(config ?? null));
