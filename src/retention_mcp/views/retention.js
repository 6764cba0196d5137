// Retention curves (Kaplan–Meier or the life table) per group, with the table of people at risk under them.
// Curves come from the step points the server sends with the result for this view (`_meta`), or from the
// group's `curve` when a chart was asked for; otherwise the reported time points are joined as steps.
"use strict";

(() => {
  const { t, pct, num, h, s, svg } = RM;
  const COLORS = ["#2f6fb3", "#d4622a", "#3a9a5b", "#8e5bb5", "#b8912f", "#c2417a", "#3f8f9c", "#7a7a2e",
                  "#a0522d", "#5061c9", "#6b8e23", "#9c3d3d"];

  function viewCurves() {
    const meta = RM.state.result && RM.state.result._meta;
    return (meta && meta["retention-mcp/view"] && meta["retention-mcp/view"].curves) || {};
  }

  function stepsOf(group, sent) {
    if (sent[group.label]) return { points: sent[group.label], exact: true };
    if (group.curve && group.curve.length) return { points: group.curve, exact: true };
    const points = [[0, 1]];
    for (const p of group.retention) if (p.retention !== null) points.push([p.time, p.retention]);
    return { points, exact: false };
  }

  function chart(result, groups) {
    const sent = viewCurves();
    const series = groups.map((g, i) => ({ group: g, color: i === 0 ? "var(--rm-line)" : COLORS[(i - 1) % COLORS.length],
                                           ...stepsOf(g, sent) }));
    const maxTime = Math.max(...result.time_points, ...series.flatMap((c) => c.points.map((p) => p[0])), 1);
    const minRetention = Math.min(...series.flatMap((c) => c.points.map((p) => p[1])));
    const floor = Math.max(0, Math.floor(minRetention * 10) / 10 - 0.1);
    const width = 720, height = 320, left = 52, right = 210, top = 12, bottom = 36;
    const x = (v) => left + (v / maxTime) * (width - left - right);
    const y = (v) => top + (1 - (v - floor) / (1 - floor)) * (height - top - bottom);
    const parts = [];
    for (let v = floor; v <= 1.0001; v += 0.1) {
      parts.push(s("line", { class: "grid", x1: left, x2: width - right, y1: y(v), y2: y(v) }));
      parts.push(s("text", { class: "muted", x: left - 6, y: y(v) + 4, "text-anchor": "end", text: pct(v, 0) }));
    }
    for (const tick of RM.ticks(maxTime, 6)) {
      parts.push(s("text", { class: "muted", x: x(tick), y: height - bottom + 16, "text-anchor": "middle", text: num(tick, 1) }));
    }
    parts.push(s("text", { class: "muted", x: (left + width - right) / 2, y: height - 4, "text-anchor": "middle",
                           text: t("time_since_hire_" + result.unit) }));
    parts.push(s("line", { class: "axis", x1: left, x2: left, y1: top, y2: height - bottom }));
    parts.push(s("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }));
    if (floor < 0.5) parts.push(s("line", { class: "axis", "stroke-dasharray": "1 3", x1: left, x2: width - right, y1: y(0.5), y2: y(0.5) }));
    series.forEach((c, i) => {
      let d = `M ${x(0)} ${y(1)}`;
      for (const [time, value] of c.points) d += ` H ${x(time).toFixed(1)} V ${y(value).toFixed(1)}`;
      const attrs = { class: "curve", d, stroke: c.color, "data-label": c.group.label, "data-points": c.points.length,
                      "data-exact": c.exact };
      if (i === 0) attrs["stroke-dasharray"] = "6 3";
      parts.push(s("path", attrs, [s("title", { text: c.group.label })]));
      const ly = top + 14 + i * 16;
      parts.push(s("line", { x1: width - right + 10, x2: width - right + 28, y1: ly - 4, y2: ly - 4, stroke: c.color,
                             "stroke-width": 2 }));
      parts.push(s("text", { x: width - right + 32, y: ly, text: RM.fit(c.group.label, right - 40) }));
    });
    return { node: svg(width, height, parts, t("curves_label")), exact: series.every((c) => c.exact) };
  }

  function atRiskTable(result, groups, minSize) {
    const head = h("tr", {}, [h("th", { text: t("group") }),
      ...result.time_points.map((tp) => h("th", { text: t("at_time_" + result.unit, { time: num(tp, 1) }) })),
      h("th", { text: t("median_tenure") })]);
    const rows = groups.map((g) => {
      if (g.suppressed) {
        return h("tr", { "data-state": "hidden" }, [h("td", { text: g.label }),
          h("td", { class: "hidden", colspan: result.time_points.length + 1, text: t("hidden_group", { k: minSize }) })]);
      }
      const cells = result.time_points.map((tp) => {
        const p = g.retention.find((r) => r.time === tp) || {};
        return h("td", { "data-time": tp, "data-at-risk": p.at_risk,
                         text: p.retention === null || p.retention === undefined ? "—"
                           : `${pct(p.retention)} (${num(p.at_risk)})` });
      });
      const median = g.median_tenure === null ? t("not_reached") : num(g.median_tenure, 1);
      return h("tr", { "data-label": g.label, "data-state": "shown" }, [h("td", { text: `${g.label} (${num(g.people)})` }),
                                                                        ...cells, h("td", { text: median })]);
    });
    return h("table", { class: "at-risk" }, [h("thead", {}, head), h("tbody", {}, rows)]);
  }

  function render() {
    const result = RM.structured();
    if (!result || !result.overall || !result.time_points) return RM.mount(RM.waiting());
    const d = result.definition || {};
    const minSize = d.min_group_size || 5;
    // Overall and the first 12 groups (lowest 12-month retention first), as the chart does; all in the table.
    const shown = [result.overall, ...result.groups.filter((g) => !g.suppressed).slice(0, 12)].filter((g) => !g.suppressed);
    const parts = [h("h1", { text: result.by.length ? t("retention_by", { by: result.by.join(" × ") }) : t("retention") }),
                   h("p", { class: "muted", text: [d.estimator, d.resolution].filter(Boolean).join(" · ") })];
    if (result.scope) parts.push(h("p", { class: "muted", text: result.scope }));
    if (shown.length) {
      const drawn = chart(result, shown);
      parts.push(drawn.node);
      parts.push(h("p", { class: "muted", text: drawn.exact ? t("curves_end", { k: minSize }) : t("curve_points_only") }));
    }
    parts.push(h("h2", { text: t("at_risk_title") }), atRiskTable(result, [result.overall, ...result.groups], minSize));
    if (result.logrank_p !== null && result.logrank_p !== undefined) {
      parts.push(h("p", { text: t("logrank", { p: result.logrank_p < 0.001 ? "< 0.001" : result.logrank_p.toFixed(3) }) }));
    }
    for (const note of result.notes || []) parts.push(h("p", { class: "muted", text: note }));
    if (result.evidence_id) parts.push(h("p", { class: "muted", text: t("evidence", { id: result.evidence_id }) }));
    RM.mount(parts);
  }

  RM.onChange(render);
})();
