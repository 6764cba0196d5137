// A plan from the workspace: its sections, the evidence each cites with the figures recorded for it, and the
// refresh state of those figures (re-run on the current data with plan_refresh, on request).
"use strict";

(() => {
  const { t, num, h } = RM;
  const evidence = new Map(); // id -> evidence_get result, or {error}
  let refresh = null;         // the last plan_refresh report
  let refreshing = false;
  let loadedFor = null;

  function inline(text) {
    // **bold**, `code` and [ev-…] citations; everything stays text.
    const parts = [];
    const pattern = /(\*\*[^*]+\*\*|`[^`]+`|\[ev-[0-9a-f]{6,}\])/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      if (match.index > last) parts.push(text.slice(last, match.index));
      const token = match[0];
      if (token.startsWith("**")) parts.push(h("strong", { text: token.slice(2, -2) }));
      else if (token.startsWith("`")) parts.push(h("code", { text: token.slice(1, -1) }));
      else parts.push(citationChip(token.slice(1, -1)));
      last = match.index + token.length;
    }
    if (last < text.length) parts.push(text.slice(last));
    return parts;
  }

  function markdown(text) {
    // Paragraphs and lists: enough to read a plan section; tables and headings are shown as text lines.
    const blocks = [];
    let list = null;
    for (const line of text.split("\n")) {
      const item = line.match(/^\s*(?:[-*]|\d+[.)])\s+(.*)$/);
      if (item) {
        if (!list) {
          list = h(/^\s*\d/.test(line) ? "ol" : "ul");
          blocks.push(list);
        }
        list.append(h("li", {}, inline(item[1])));
      } else if (line.trim()) {
        list = null;
        blocks.push(h("p", {}, inline(line.replace(/^#+\s*/, ""))));
      } else {
        list = null;
      }
    }
    return h("div", { class: "markdown" }, blocks);
  }

  function refreshed(id) {
    return refresh && refresh.evidence.find((item) => item.evidence_id === id);
  }

  function citationChip(id) {
    const item = refreshed(id);
    return h("span", { class: "chip" + (item ? " " + item.status : ""), "data-evidence": id,
                       "data-status": item ? item.status : "recorded", text: id });
  }

  function figuresTable(id) {
    const found = evidence.get(id);
    const item = refreshed(id);
    const state = item ? t("refresh_" + item.status) : t("refresh_not_checked");
    if (!found) return h("p", { class: "muted", text: `${id}: ${t("loading")}` });
    if (found.error) return h("p", { class: "muted", text: `${id}: ${found.error}` });
    const changes = new Map(((item && item.changes) || []).map((c) => [c.figure, c]));
    const rows = Object.entries(found.figures || {}).slice(0, 12).map(([name, value]) => {
      const change = changes.get(name);
      return h("tr", { "data-figure": name, "data-changed": Boolean(change) }, [
        h("td", { text: name }), h("td", { text: format(name, value) }),
        h("td", { class: change ? "changed" : "", text: change ? `→ ${format(name, change.new)}` : "" }),
      ]);
    });
    const heading = `${id} · ${found.tool} · ${t("recorded", { when: (found.created_at || "").slice(0, 16).replace("T", " ") })}` +
      ` · ${state}` + (item && item.new_evidence_id ? ` · ${t("new_evidence", { id: item.new_evidence_id })}` : "") +
      (item && item.reason ? ` · ${item.reason}` : "");
    return h("div", { "data-evidence-figures": id }, [h("p", { class: "muted", text: heading }),
                                                      h("table", {}, h("tbody", {}, rows))]);
  }

  function format(name, value) {
    // Rates and shares are fractions in the evidence: shown as percentages, as in the plan's text.
    if (typeof value === "number" && /rate|retention|attrition|share|roi|fraction/i.test(name) && Math.abs(value) <= 2) {
      return RM.pct(value);
    }
    if (typeof value === "number") return Math.abs(value) < 1 && value !== 0 ? num(value, 4) : num(value, 2);
    return value === null || value === undefined ? "—" : String(value);
  }

  async function loadEvidence(ids) {
    await Promise.all(ids.filter((id) => !evidence.has(id)).map(async (id) => {
      try {
        const answer = await RM.callTool("evidence_get", { evidence_id: id });
        evidence.set(id, answer.structuredContent);
      } catch (error) {
        evidence.set(id, { error: error.message });
      }
    }));
    render();
  }

  async function runRefresh(planId) {
    refreshing = true;
    render();
    try {
      const answer = await RM.callTool("plan_refresh", { plan_id: planId });
      refresh = answer.structuredContent;
      RM.tellModel(t("refresh_model_context", { plan: planId, changed: refresh.changed_figures }));
    } catch (error) {
      refresh = { evidence: [], changed_figures: 0, error: error.message };
    }
    refreshing = false;
    render();
  }

  function render() {
    const plan = RM.structured();
    if (!plan || !plan.sections) return RM.mount(RM.waiting());
    const cited = [...new Set(plan.sections.flatMap((section) => section.cited))];
    const key = plan.id + ":" + plan.version;
    if (loadedFor !== key && RM.canCallTools()) {
      loadedFor = key;
      loadEvidence(cited);
    }
    const parts = [h("h1", { text: plan.title }),
                   h("p", { class: "muted", text: t("plan_meta", { id: plan.id, version: plan.version, current: plan.current_version,
                                                                    group: plan.group || "—", template: plan.template }) })];
    const button = h("button", { id: "rm-refresh", disabled: !RM.canCallTools() || refreshing || !cited.length,
                                 onclick: () => runRefresh(plan.id),
                                 text: refreshing ? t("refreshing") : t("refresh_button") });
    let summary = t("refresh_never", { count: cited.length });
    if (refresh && refresh.error) summary = t("recalc_failed", { error: refresh.error });
    else if (refresh) summary = t("refresh_summary", { count: refresh.evidence.length, changed: refresh.changed_figures });
    parts.push(h("p", {}, [button, " ", h("span", { class: "muted", id: "rm-refresh-state", text: summary })]));
    if (!RM.canCallTools()) parts.push(h("p", { class: "muted", text: t("no_server_tools") }));
    plan.sections.forEach((section) => {
      const who = section.author ? t("last_changed", { version: section.last_changed_version, author: section.author,
                                                        when: (section.changed_at || "").slice(0, 16).replace("T", " ") }) : "";
      const body = section.markdown ? markdown(section.markdown) : h("p", { class: "muted", text: t("not_written") });
      const figures = section.cited.map((id) => figuresTable(id));
      parts.push(h("section", { class: "plan-section", "data-section": section.heading }, [
        h("h2", { text: `${section.number}. ${section.heading}` }), h("p", { class: "muted", text: who }), body,
        section.cited.length ? h("p", { class: "muted", text: t("cites", { count: section.cited.length }) }) : null,
        ...figures,
      ]));
    });
    RM.mount(parts);
  }

  RM.onChange(render);
})();
