// The ROI of a retention programme: headline figures, the low/base/high scenarios, the ±20% sensitivity
// tornado, and sliders for the target turnover rate and the programme cost that run calculate_roi again
// through the host and redraw from its answer (the numbers always come from the server, never from here).
"use strict";

(() => {
  const { t, pct, num, money, h, s, svg } = RM;
  let args = null;        // the arguments of the result on screen
  let busy = false;
  let status = "";
  let firstResult = null; // the result the view was opened with, to compare against

  function argumentsFrom(result) {
    // The call's own arguments when the host sent them; else rebuilt from the result (same figures).
    const given = RM.state.input;
    if (given && given.headcount !== undefined) return { ...given };
    return {
      headcount: result.headcount, current_turnover_rate: result.current_turnover_rate,
      target_turnover_rate: result.target_turnover_rate, average_annual_cost: result.average_annual_cost,
      replacement_cost_multiplier: result.replacement_cost_multiplier, program_cost_one_off: result.cost_one_off,
      program_cost_annual: result.horizon_months ? result.cost_running * 12 / result.horizon_months : 0,
      horizon_months: result.horizon_months, benefit_ramp_months: result.benefit_ramp_months,
      discount_rate: result.discount_rate, currency: result.currency,
    };
  }

  function ratio(value) {
    return value === null || value === undefined ? "—" : value.toFixed(2) + "×";
  }

  function cards(r) {
    const card = (label, value, key) => h("div", { class: "card", "data-figure": key }, [h("span", { class: "muted", text: label }),
                                                                                         h("b", { text: value })]);
    return h("div", { class: "cards" }, [
      card(t("roi"), r.roi === null ? "—" : pct(r.roi, 0), "roi"),
      card(t("benefit_cost_ratio"), ratio(r.benefit_cost_ratio), "benefit_cost_ratio"),
      card(t("net_benefit"), money(r.net_benefit, r.currency), "net_benefit"),
      card(t("npv"), money(r.npv, r.currency), "npv"),
      card(t("payback"), r.payback_month === null ? t("no_payback", { months: r.horizon_months })
        : t("payback_month", { month: r.payback_month }), "payback_month"),
      card(t("avoided_leavers"), num(r.avoided_leavers_per_year, 1), "avoided_leavers_per_year"),
    ]);
  }

  function scenarios(r) {
    const width = 720, height = 220, left = 70, top = 24, bottom = 40, group = (width - left - 20) / r.scenarios.length;
    const max = Math.max(...r.scenarios.flatMap((sc) => [sc.total_benefit, sc.total_cost]), 1) * 1.1;
    const y = (v) => top + (1 - v / max) * (height - top - bottom);
    const parts = [];
    for (const tick of RM.ticks(max, 4)) {
      parts.push(s("line", { class: "grid", x1: left, x2: width - 20, y1: y(tick), y2: y(tick) }));
      parts.push(s("text", { class: "muted", x: left - 6, y: y(tick) + 4, "text-anchor": "end", text: num(tick) }));
    }
    r.scenarios.forEach((sc, i) => {
      const x0 = left + i * group + group * 0.18, bar = group * 0.3;
      parts.push(s("rect", { class: "bar", x: x0, y: y(sc.total_benefit), width: bar, height: y(0) - y(sc.total_benefit),
                             "data-scenario": sc.name, "data-benefit": sc.total_benefit },
                   [s("title", { text: `${t("benefit")}: ${money(sc.total_benefit, r.currency)}` })]));
      parts.push(s("rect", { class: "cost", x: x0 + bar + 4, y: y(sc.total_cost), width: bar, height: y(0) - y(sc.total_cost),
                             "data-cost": sc.total_cost },
                   [s("title", { text: `${t("cost")}: ${money(sc.total_cost, r.currency)}` })]));
      parts.push(s("text", { x: x0 + bar + 2, y: height - bottom + 16, "text-anchor": "middle",
                             text: t("scenario_" + sc.name) }));
      parts.push(s("text", { class: "muted", x: x0 + bar + 2, y: height - bottom + 30, "text-anchor": "middle",
                             text: `ROI ${sc.roi === null ? "—" : pct(sc.roi, 0)} · ${t("multiplier_short", { m: num(sc.replacement_cost_multiplier, 2) })}` }));
    });
    parts.push(s("rect", { class: "bar", x: left, y: 2, width: 10, height: 10 }),
               s("text", { x: left + 14, y: 11, text: t("benefit") }),
               s("rect", { class: "cost", x: left + 90, y: 2, width: 10, height: 10 }),
               s("text", { x: left + 104, y: 11, text: t("cost") }));
    return svg(width, height, parts, t("scenarios_title"));
  }

  function tornado(r) {
    const rows = r.sensitivity.filter((row) => row.metric_at_low !== null && row.metric_at_high !== null);
    if (!rows.length) return null;
    const isRoi = r.sensitivity_metric === "roi";
    const base = isRoi ? r.roi : r.net_benefit;
    const fmt = (v) => (isRoi ? pct(v, 0) : money(v, r.currency));
    const values = rows.flatMap((row) => [row.metric_at_low, row.metric_at_high]).concat([base]);
    const lo = Math.min(...values), hi = Math.max(...values), pad = (hi - lo) * 0.08 || 1;
    const width = 720, left = 230, right = 70, rowHeight = 26, top = 22;
    const height = top + rows.length * rowHeight + 10;
    const inner = 48; // room for the value labels at both ends of a bar
    const x = (v) => left + inner + ((v - lo + pad) / (hi - lo + 2 * pad)) * (width - left - right - 2 * inner);
    const parts = [s("text", { class: "muted", x: x(base), y: 12, "text-anchor": "middle", text: t("base_value", { value: fmt(base) }) })];
    rows.forEach((row, i) => {
      const y = top + i * rowHeight;
      const a = Math.min(row.metric_at_low, row.metric_at_high), b = Math.max(row.metric_at_low, row.metric_at_high);
      parts.push(s("text", { x: left - 8, y: y + 16, "text-anchor": "end", text: t("input_" + row.input) }));
      // Two halves from the base: the input at −20% (light) and at +20% (dark), so the direction shows.
      for (const [side, value] of [["low", row.metric_at_low], ["high", row.metric_at_high]]) {
        const from = Math.min(base, value), to = Math.max(base, value);
        parts.push(s("rect", { class: side === "high" ? "bar" : "bar light", x: x(from), y: y + 5,
                               width: Math.max(1, x(to) - x(from)), height: rowHeight - 10, "data-input": row.input,
                               "data-side": side, "data-metric": value, "data-swing": row.swing },
                     [s("title", { text: `${side === "high" ? "+20%" : "−20%"}: ${fmt(value)}` })]));
      }
      parts.push(s("text", { class: "muted", x: x(b) + 4, y: y + 16, text: fmt(b) }));
      parts.push(s("text", { class: "muted", x: x(a) - 4, y: y + 16, "text-anchor": "end", text: fmt(a) }));
    });
    parts.push(s("line", { class: "overall", x1: x(base), x2: x(base), y1: top - 4, y2: height - 6 }));
    parts.push(s("rect", { class: "bar light", x: 0, y: 2, width: 10, height: 10 }),
               s("text", { x: 14, y: 11, text: t("at_minus_20") }),
               s("rect", { class: "bar", x: 100, y: 2, width: 10, height: 10 }),
               s("text", { x: 114, y: 11, text: t("at_plus_20") }));
    return svg(width, height, parts, t("tornado_title"));
  }

  function slider(id, label, min, max, step, value, format) {
    const output = h("output", { for: id, id: id + "-value", text: format(value) });
    const input = h("input", { type: "range", id, min, max, step, value, "aria-label": label,
                               disabled: !RM.canCallTools() || busy });
    input.addEventListener("input", () => { output.textContent = format(Number(input.value)); });
    input.addEventListener("change", () => recalculate());
    return [h("label", { for: id, text: label }), input, output];
  }

  async function recalculate() {
    const next = { ...args };
    next.target_turnover_rate = Number(document.getElementById("rm-target").value);
    next.program_cost_one_off = Number(document.getElementById("rm-one-off").value);
    next.program_cost_annual = Number(document.getElementById("rm-annual").value);
    busy = true;
    status = t("recalculating");
    render();
    try {
      const answer = await RM.callTool("calculate_roi", next);
      args = next;
      RM.state.result = answer;
      status = t("recalculated", { id: answer.structuredContent.evidence_id || "—" });
      const r = answer.structuredContent;
      RM.tellModel(t("model_context", { target: pct(r.target_turnover_rate), one_off: money(r.cost_one_off, r.currency),
                                        annual: money(next.program_cost_annual, r.currency),
                                        roi: r.roi === null ? "—" : pct(r.roi, 0), bcr: ratio(r.benefit_cost_ratio),
                                        id: r.evidence_id || "—" }));
    } catch (error) {
      status = t("recalc_failed", { error: error.message });
    }
    busy = false;
    render();
  }

  function controls(r) {
    const current = r.current_turnover_rate;
    const oneOff = Number(args.program_cost_one_off || 0), annual = Number(args.program_cost_annual || 0);
    const first = firstResult || r;
    const costScale = Math.max(first.total_benefit, first.total_cost, 10000);
    const rows = [
      ...slider("rm-target", t("target_rate"), 0, current, 0.001, r.target_turnover_rate, (v) => pct(v)),
      ...slider("rm-one-off", t("cost_one_off"), 0, Math.ceil(Math.max(oneOff * 3, costScale) / 1000) * 1000, 500, oneOff,
                (v) => money(v, r.currency)),
      ...slider("rm-annual", t("cost_annual"), 0, Math.ceil(Math.max(annual * 3, costScale) / 1000) * 1000, 500, annual,
                (v) => money(v, r.currency)),
    ];
    const note = RM.canCallTools() ? status : t("no_server_tools");
    return [h("div", { class: "controls" }, rows), h("p", { class: "muted", id: "rm-status", text: note })];
  }

  function render() {
    const r = RM.structured();
    if (!r || !r.scenarios) return RM.mount(RM.waiting());
    if (!args) {
      args = argumentsFrom(r);
      firstResult = r;
    }
    const parts = [h("h1", { text: t("roi_title", { months: r.horizon_months }) }),
                   h("p", { class: "muted", text: t("roi_inputs", {
                     headcount: num(r.headcount), current: pct(r.current_turnover_rate), target: pct(r.target_turnover_rate),
                     cost: money(r.average_annual_cost, r.currency), multiplier: num(r.replacement_cost_multiplier, 2) }) }),
                   cards(r), ...controls(r),
                   h("h2", { text: t("scenarios_title") }), scenarios(r)];
    const chart = tornado(r);
    if (chart) parts.push(h("h2", { text: t("tornado_title") }), chart,
                          h("p", { class: "muted", text: t("tornado_note", { metric: t(r.sensitivity_metric) }) }));
    parts.push(h("p", { class: "muted formula", text: r.formula }));
    if (r.evidence_id) parts.push(h("p", { class: "muted", text: t("evidence", { id: r.evidence_id }) }));
    RM.mount(parts);
  }

  RM.onChange(render);
})();
