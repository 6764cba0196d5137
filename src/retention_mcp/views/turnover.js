// Turnover by group: bars with their 95% intervals and the overall rate as a line; for a breakdown by two
// dimensions also the group × group heatmap. Suppressed groups are drawn as hidden (hatched), never as zero.
"use strict";

(() => {
  const { t, pct, num, h, s, svg } = RM;
  const MAX_BARS = 25;

  function rateOf(row, annualised) {
    return annualised ? row.annualised_rate : row.rate;
  }

  function bars(result, annualised, minSize) {
    const shown = result.rows.filter((r) => !r.suppressed && r.rate !== null).slice(0, MAX_BARS);
    const hidden = result.rows.filter((r) => r.suppressed);
    const rows = [...shown, ...hidden];
    if (!rows.length) return null;
    const overall = result.overall.suppressed ? null : rateOf(result.overall, annualised);
    const highs = shown.map((r) => (annualised ? r.annualised_ci_high : r.ci_high) || rateOf(r, annualised) || 0);
    const max = Math.max(overall || 0, ...highs) * 1.08 || 0.1;
    const width = 720, rowHeight = 24, top = 26, right = 60;
    const labelWidth = Math.min(300, Math.max(80, ...rows.map((r) => RM.textWidth(r.label))) + 14);
    const plot = width - labelWidth - right;
    const x = (v) => labelWidth + (v / max) * plot;
    const height = top + rows.length * rowHeight + 26;
    const parts = [RM.hatchPattern("rm-hatch")];
    for (const tick of RM.ticks(max, 5)) {
      parts.push(s("line", { class: "grid", x1: x(tick), x2: x(tick), y1: top - 4, y2: height - 22 }));
      parts.push(s("text", { class: "muted", x: x(tick), y: height - 8, "text-anchor": "middle", text: pct(tick, 0) }));
    }
    rows.forEach((row, i) => {
      const y = top + i * rowHeight;
      parts.push(s("text", { x: labelWidth - 8, y: y + 15, "text-anchor": "end", text: RM.fit(row.label, labelWidth - 12) },
                   [s("title", { text: row.label })]));
      if (row.suppressed) {
        parts.push(s("rect", { class: "hidden-cell", x: labelWidth, y: y + 4, width: plot, height: rowHeight - 8,
                               "data-state": "hidden", "data-label": row.label }));
        parts.push(s("text", { class: "muted", x: labelWidth + 8, y: y + 15, text: t("hidden_bar") }));
        return;
      }
      const rate = rateOf(row, annualised);
      const low = annualised ? row.annualised_ci_low : row.ci_low;
      const high = annualised ? row.annualised_ci_high : row.ci_high;
      parts.push(s("rect", { class: "bar" + (row.significant ? " significant" : ""), x: labelWidth, y: y + 5,
                             width: Math.max(0.5, x(rate) - labelWidth), height: rowHeight - 10,
                             "data-state": "shown", "data-label": row.label, "data-rate": rate },
                   [s("title", { text: `${row.label}: ${pct(rate)} (${t("ci")} ${pct(low)}–${pct(high)}); ` +
                                       `${num(row.leavers)} / ${num(row.headcount, 1)}` })]));
      if (low !== null && high !== null) {
        parts.push(s("line", { class: "whisker", x1: x(low), x2: x(high), y1: y + 12, y2: y + 12 }));
        parts.push(s("line", { class: "whisker", x1: x(low), x2: x(low), y1: y + 8, y2: y + 16 }));
        parts.push(s("line", { class: "whisker", x1: x(high), x2: x(high), y1: y + 8, y2: y + 16 }));
      }
      parts.push(s("text", { x: x(high !== null ? high : rate) + 6, y: y + 15, text: pct(rate) }));
    });
    if (overall !== null) {
      parts.push(s("line", { class: "overall", x1: x(overall), x2: x(overall), y1: top - 6,
                             y2: top + Math.max(1, shown.length) * rowHeight, "data-rate": overall }));
      parts.push(s("text", { x: x(overall), y: top - 10, "text-anchor": "middle",
                             text: t("overall_line", { rate: pct(overall) }) }));
    }
    const label = t("bars_label", { by: result.by.join(" × ") });
    return svg(width, height, parts, label);
  }

  function heatmap(result, annualised, minSize) {
    if (result.by.length !== 2) return null;
    const [rowDim, colDim] = result.by;
    const rowValues = [], colValues = [];
    const cells = new Map();
    for (const row of result.rows) {
      const a = row.group[rowDim], b = row.group[colDim];
      if (!rowValues.includes(a)) rowValues.push(a);
      if (!colValues.includes(b)) colValues.push(b);
      cells.set(a + "\u0000" + b, row);
    }
    rowValues.sort();
    colValues.sort();
    const rates = result.rows.filter((r) => !r.suppressed).map((r) => rateOf(r, annualised) || 0);
    const max = Math.max(...rates, 0.0001);
    const cellWidth = 92, cellHeight = 34, top = 90;
    const left = Math.min(240, Math.max(60, ...rowValues.map((a) => RM.textWidth(a))) + 14);
    const width = left + colValues.length * cellWidth + 100;
    const height = top + rowValues.length * cellHeight + 10;
    const dark = document.documentElement.dataset.theme === "dark" ||
      (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
    const parts = [RM.hatchPattern("rm-hatch")];
    colValues.forEach((b, j) => {
      const cx = left + j * cellWidth + cellWidth / 2;
      parts.push(s("text", { x: cx, y: top - 8, "text-anchor": "start", transform: `rotate(-35 ${cx} ${top - 8})`,
                             text: RM.fit(b, 130) }));
    });
    parts.push(s("text", { class: "muted", x: left, y: 14, text: colDim }));
    parts.push(s("text", { class: "muted", x: 4, y: top - 8, text: rowDim }));
    rowValues.forEach((a, i) => {
      const y = top + i * cellHeight;
      parts.push(s("text", { x: left - 8, y: y + cellHeight / 2 + 4, "text-anchor": "end", text: RM.fit(a, left - 12) }));
      colValues.forEach((b, j) => {
        const x = left + j * cellWidth;
        const row = cells.get(a + "\u0000" + b);
        const box = { x: x + 1, y: y + 1, width: cellWidth - 2, height: cellHeight - 2, "data-row": a, "data-col": b };
        if (!row) {
          // Not in the result: nobody with this combination (or cut by max_rows when truncated).
          parts.push(s("rect", { ...box, class: "empty-cell", "data-state": "empty" }));
          parts.push(s("text", { class: "muted", x: x + cellWidth / 2, y: y + cellHeight / 2 + 4, "text-anchor": "middle",
                                 text: result.truncated ? t("not_returned") : "—" }));
        } else if (row.suppressed) {
          parts.push(s("rect", { ...box, class: "hidden-cell", "data-state": "hidden" },
                       [s("title", { text: t("hidden_group", { k: minSize }) })]));
          parts.push(s("text", { class: "muted", x: x + cellWidth / 2, y: y + cellHeight / 2 + 4, "text-anchor": "middle",
                                 text: t("hidden") }));
        } else {
          const rate = rateOf(row, annualised);
          const share = Math.min(1, (rate || 0) / max);
          const light = dark ? 20 + share * 32 : 95 - share * 50;
          const fill = `hsl(8 70% ${light}%)`;
          const ink = (dark ? light > 45 : light < 58) ? (dark ? "#111" : "#fff") : (dark ? "#f4f4f5" : "#18181b");
          parts.push(s("rect", { ...box, fill, "data-state": "shown", "data-rate": rate },
                       [s("title", { text: `${row.label}: ${pct(rate)} (${num(row.leavers)} / ${num(row.headcount, 1)})` })]));
          parts.push(s("text", { x: x + cellWidth / 2, y: y + cellHeight / 2 + 4, "text-anchor": "middle",
                                 style: `fill:${ink}`, text: pct(rate) }));
        }
      });
    });
    return svg(width, height, parts, t("heatmap_label", { rows: rowDim, cols: colDim }));
  }

  function render() {
    const result = RM.structured();
    if (!result || !result.rows) return RM.mount(RM.waiting());
    const d = result.definition || {};
    const annualised = Boolean(d.months && d.months !== 12 && result.overall.annualised_rate !== null);
    const minSize = d.min_group_size || 5;
    const overall = result.overall;
    const title = result.by.length ? t("turnover_by", { by: result.by.join(" × ") }) : t("turnover");
    const summary = overall.suppressed ? t("overall_hidden", { k: minSize })
      : t("overall_summary", { rate: pct(rateOf(overall, annualised)), leavers: num(overall.leavers),
                               headcount: num(overall.headcount, 1),
                               low: pct(annualised ? overall.annualised_ci_low : overall.ci_low),
                               high: pct(annualised ? overall.annualised_ci_high : overall.ci_high) });
    const period = d.period_start ? t("period", { start: d.period_start, end: d.period_end }) : "";
    const parts = [
      h("h1", { text: title }),
      h("p", { text: summary }),
      h("p", { class: "muted", text: [d.formula, period, d.interval, annualised ? t("annualised_note") : ""]
        .filter(Boolean).join(" · ") }),
    ];
    if (result.scope) parts.push(h("p", { class: "muted", text: result.scope }));
    const map = heatmap(result, annualised, minSize);
    if (map) parts.push(h("h2", { text: t("heatmap_title") }), map);
    const chart = bars(result, annualised, minSize);
    if (chart) parts.push(h("h2", { text: t("bars_title") }), chart,
                          h("p", { class: "muted", text: t("bars_legend") }));
    if (result.suppressed_groups) parts.push(h("p", { class: "muted", text: t("suppressed_note",
      { count: result.suppressed_groups, k: minSize }) }));
    if (result.evidence_id) parts.push(h("p", { class: "muted", text: t("evidence", { id: result.evidence_id }) }));
    RM.mount(parts);
  }

  RM.onChange(render);
})();
