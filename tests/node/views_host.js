// A minimal MCP Apps host for the view tests, built on the ext-apps host bridge (AppBridge): it renders a
// view's HTML in a sandboxed iframe, answers ui/initialize with a host context (theme, locale), sends the
// tool's input and result, and relays the view's tools/call to the test (window.hostCallTool, a binding the
// test exposes), which calls the real server through the MCP SDK client. Bundled by esbuild into one script.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

const LIGHT = {
  "--color-background-primary": "#ffffff",
  "--color-text-primary": "#1f1f1f",
};
const DARK = {
  "--color-background-primary": "#1f1f1f",
  "--color-text-primary": "#f2f2f2",
};

window.hostState = { calls: [], modelContext: [], sizes: [], initialized: false, logs: [] };

window.startHost = async ({ html, toolArgs, toolResult, theme, locale, tool }) => {
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts");
  frame.setAttribute("title", "view");
  frame.style.cssText = "width: 760px; height: 400px; border: 0; display: block;";
  document.getElementById("host").replaceChildren(frame);
  const bridge = new AppBridge(
    null,
    { name: "retention-mcp-test-host", version: "1.0.0" },
    { serverTools: {}, updateModelContext: { text: {} }, logging: {} },
    { hostContext: { theme, locale, displayMode: "inline", availableDisplayModes: ["inline"], platform: "web",
                     toolInfo: { tool }, styles: { variables: theme === "dark" ? DARK : LIGHT } } },
  );
  bridge.oncalltool = async (params) => {
    window.hostState.calls.push(params);
    return JSON.parse(await window.hostCallTool(JSON.stringify(params)));
  };
  bridge.onupdatemodelcontext = async (params) => {
    window.hostState.modelContext.push(params);
    return {};
  };
  bridge.onsizechange = ({ height }) => {
    window.hostState.sizes.push(height);
    if (height) frame.style.height = `${height}px`;
  };
  bridge.onloggingmessage = (params) => window.hostState.logs.push(params);
  bridge.oninitialized = async () => {
    window.hostState.initialized = true;
    await bridge.sendToolInput({ arguments: toolArgs });
    await bridge.sendToolResult(toolResult);
  };
  window.hostBridge = bridge;
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  frame.srcdoc = html;
};

window.setHostTheme = (theme) =>
  window.hostBridge.sendHostContextChange({ theme, styles: { variables: theme === "dark" ? DARK : LIGHT } });
