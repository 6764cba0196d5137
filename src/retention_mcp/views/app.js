// retention-mcp view runtime: the MCP Apps view side (ext-apps spec 2026-01-26) in plain JavaScript.
// JSON-RPC 2.0 over postMessage with the host: ui/initialize -> ui/notifications/initialized, then the host
// sends the tool's input and result; the view may call tools back (tools/call) and report its size.
// No library, no network: everything a view draws is inline SVG built here from the tool result.
"use strict";

const RM = (() => {
  const PROTOCOL_VERSION = "2026-01-26";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const config = JSON.parse(document.getElementById("rm-config").textContent);
  const pending = new Map();
  const listeners = [];
  const state = { input: null, result: null, context: {}, capabilities: {}, cancelled: null };
  let nextId = 1;
  let lastSize = "";

  function post(message) {
    window.parent.postMessage(message, "*");
  }

  function request(method, params) {
    const id = nextId++;
    post({ jsonrpc: "2.0", id, method, params });
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  }

  function notify(method, params) {
    post({ jsonrpc: "2.0", method, params: params || {} });
  }

  function changed() {
    for (const listener of listeners) {
      try {
        listener(state);
      } catch (error) {
        showError(error);
      }
    }
  }

  function applyContext(context) {
    // A partial update: merge it (the spec's host-context-changed carries only what changed).
    Object.assign(state.context, context || {});
    const root = document.documentElement;
    if (state.context.theme === "light" || state.context.theme === "dark") {
      root.dataset.theme = state.context.theme;
    }
    const variables = (state.context.styles && state.context.styles.variables) || {};
    for (const [name, value] of Object.entries(variables)) {
      // Only the spec's CSS variables. Host font CSS (styles.css.fonts) is not applied: it may load fonts from
      // the network, and a view of HR figures makes no request of its own.
      if (typeof value === "string" && name.startsWith("--")) root.style.setProperty(name, value);
    }
  }

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const message = event.data;
    if (!message || message.jsonrpc !== "2.0") return;
    if (message.method === undefined) {
      const waiting = pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id);
      if (message.error) waiting.reject(new Error(message.error.message || "request failed"));
      else waiting.resolve(message.result);
      return;
    }
    if (message.id !== undefined) {
      // Requests from the host: teardown and ping need only an empty answer.
      if (message.method === "ui/resource-teardown" || message.method === "ping") {
        post({ jsonrpc: "2.0", id: message.id, result: {} });
      } else {
        post({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found" } });
      }
      return;
    }
    const params = message.params || {};
    if (message.method === "ui/notifications/tool-input") {
      state.input = params.arguments || {};
      changed();
    } else if (message.method === "ui/notifications/tool-result") {
      state.result = params;
      state.cancelled = null;
      changed();
    } else if (message.method === "ui/notifications/tool-cancelled") {
      state.cancelled = params.reason || "cancelled";
      changed();
    } else if (message.method === "ui/notifications/host-context-changed") {
      applyContext(params);
      changed();
    }
  });

  function reportSize() {
    const root = document.documentElement;
    const size = { width: Math.ceil(root.scrollWidth), height: Math.ceil(root.scrollHeight) };
    const key = size.width + "x" + size.height;
    if (key !== lastSize) {
      lastSize = key;
      notify("ui/notifications/size-changed", size);
    }
  }

  async function connect() {
    const result = await request("ui/initialize", {
      appInfo: { name: "retention-mcp " + config.view, version: config.version },
      appCapabilities: { availableDisplayModes: ["inline", "fullscreen"] },
      protocolVersion: PROTOCOL_VERSION,
    });
    state.capabilities = (result && result.hostCapabilities) || {};
    applyContext((result && result.hostContext) || {});
    notify("ui/notifications/initialized", {});
    new ResizeObserver(() => requestAnimationFrame(reportSize)).observe(document.documentElement);
    changed();
  }

  // -- calling tools through the host

  function canCallTools() {
    return Boolean(state.capabilities.serverTools);
  }

  async function callTool(name, args) {
    const result = await request("tools/call", { name, arguments: args });
    if (result && result.isError) {
      const text = (result.content || []).map((c) => c.text || "").join(" ").trim();
      throw new Error(text || name + " failed");
    }
    return result;
  }

  function tellModel(text) {
    // Keep the assistant in step with what the person explored here (replaces the previous update).
    if (!state.capabilities.updateModelContext) return;
    request("ui/update-model-context", { content: [{ type: "text", text }] }).catch(() => {});
  }

  // -- words and numbers in the caller's language

  function language() {
    const asked = state.input && state.input.language;
    const fromResult = state.result && state.result.structuredContent && state.result.structuredContent.language;
    const locale = String(state.context.locale || "");
    const chosen = asked || fromResult || config.language || (locale.startsWith("zh") ? "zh" : "en");
    return config.words[chosen] ? chosen : "en";
  }

  function t(key, values) {
    const words = config.words[language()] || {};
    let text = words[key] !== undefined ? words[key] : (config.words.en[key] !== undefined ? config.words.en[key] : key);
    for (const [name, value] of Object.entries(values || {})) text = text.split("{" + name + "}").join(String(value));
    return text;
  }

  function locale() {
    return language() === "zh" ? "zh-CN" : "en-US";
  }

  function pct(value, digits) {
    if (value === null || value === undefined || !isFinite(value)) return "—";
    return (value * 100).toFixed(digits === undefined ? 1 : digits) + "%";
  }

  function num(value, digits) {
    if (value === null || value === undefined || !isFinite(value)) return "—";
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits === undefined ? 0 : digits }).format(value);
  }

  function money(value, currency) {
    const text = num(value, 0);
    return currency ? text + " " + currency : text;
  }

  // -- building the page: DOM and SVG nodes, text always as text (never parsed as HTML)

  function node(tag, attrs, children, namespace) {
    const element = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") element.textContent = String(value);
      else if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, String(value));
    }
    for (const child of [].concat(children || [])) {
      if (child === null || child === undefined || child === false) continue;
      element.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return element;
  }

  const h = (tag, attrs, children) => node(tag, attrs, children);
  const s = (tag, attrs, children) => node(tag, attrs, children, SVG_NS);

  function svg(width, height, children, label) {
    return s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": label,
                      preserveAspectRatio: "xMinYMin meet" }, children);
  }

  function hatchPattern(id) {
    // Diagonal hatching: the mark of a hidden (suppressed) value, never a bar or colour of zero.
    return s("defs", {}, [s("pattern", { id, width: 6, height: 6, patternUnits: "userSpaceOnUse",
                                         patternTransform: "rotate(45)" },
      [s("rect", { width: 6, height: 6, class: "hatch-bg" }), s("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "hatch" })])]);
  }

  function ticks(max, count) {
    // Round tick values from 0 to max.
    if (!(max > 0)) return [0];
    const raw = max / (count || 4);
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((v) => v >= raw) || raw;
    const values = [];
    for (let v = 0; v <= max + step * 1e-9; v += step) values.push(Number(v.toPrecision(12)));
    return values;
  }

  let measurer = null;
  function textWidth(text) {
    // Width of an SVG label in px (12px sans), to size label columns and cut labels that would not fit.
    measurer = measurer || document.createElement("canvas").getContext("2d");
    measurer.font = "12px " + getComputedStyle(document.documentElement).getPropertyValue("--font-sans");
    return measurer.measureText(String(text)).width;
  }

  function fit(text, width) {
    text = String(text);
    if (textWidth(text) <= width) return text;
    while (text.length > 1 && textWidth(text + "…") > width) text = text.slice(0, -1);
    return text + "…";
  }

  function mount(children) {
    const root = document.getElementById("app");
    root.replaceChildren(...[].concat(children).filter(Boolean));
  }

  function showError(error) {
    const root = document.getElementById("app");
    root.append(h("p", { class: "error", role: "alert", text: String((error && error.message) || error) }));
  }

  function structured() {
    return state.result && state.result.structuredContent;
  }

  function waiting() {
    if (state.cancelled) return h("p", { class: "muted", text: t("cancelled", { reason: state.cancelled }) });
    if (state.result && state.result.isError) {
      const text = (state.result.content || []).map((c) => c.text || "").join(" ");
      return h("p", { class: "error", role: "alert", text });
    }
    return h("p", { class: "muted", text: t("waiting") });
  }

  function onChange(listener) {
    listeners.push(listener);
  }

  window.addEventListener("DOMContentLoaded", () => {
    connect().catch(showError);
  });

  return { state, config, onChange, callTool, canCallTools, tellModel, t, language, pct, num, money, h, s, svg,
           hatchPattern, ticks, textWidth, fit, mount, structured, waiting, showError };
})();
