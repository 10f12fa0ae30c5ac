// The ROI dashboard's page: reads the JSON API, draws the charts with uPlot, fills the tables and
// the cost view. Every number comes from the API; the page computes nothing but its layout.
"use strict";

(function () {
  const PRICE_FIELDS = ["origin_read", "gb_hour", "gpu_hour", "gpus"];
  const COLORS = {
    real: "#1f6fd1",
    shadow: "#e8730c",
    net: "#2a9d4b",
    loads: "#8a8a8a",
    target: "#b03a9a",
    alert: "#d62828",
    promoted: "#2a9d4b",
    rejected: "#8a8a8a",
    rolled_back: "#7b3fbf",
  };
  const JOB_MARKS = new Set(["promoted", "rejected", "rolled_back"]);

  // What tests (and a curious reader in the console) can inspect.
  const state = {
    suite: null,
    tenant: null,
    view: null,
    cost: null,
    charts: {},
    refreshes: 0,
    costRefreshes: 0,
  };
  window.predisDashboard = state;

  const $ = (selector) => document.querySelector(selector);

  function percent(value) {
    return value === null || value === undefined ? "–" : (100 * value).toFixed(1) + "%";
  }

  function points(value) {
    return value === null || value === undefined ? "–" : (value >= 0 ? "+" : "") + (100 * value).toFixed(1) + " pt";
  }

  function count(value) {
    return value === null || value === undefined ? "–" : Math.round(value).toLocaleString("en-US");
  }

  // Whole numbers as they are; fractions to 4 significant digits, so that a small quantity (a
  // fraction of a GB-hour) shows as what it is, not as 0.
  function number(value, digits) {
    if (value === null || value === undefined) return "–";
    const v = Number(value);
    if (digits !== undefined) return v.toLocaleString("en-US", { maximumFractionDigits: digits });
    if (Number.isInteger(v) || Math.abs(v) >= 1000) return v.toLocaleString("en-US", { maximumFractionDigits: 2 });
    return v.toLocaleString("en-US", { maximumSignificantDigits: 4 });
  }

  function money(value) {
    if (value === null || value === undefined) return null;
    const v = Number(value);
    if (v === 0 || Math.abs(v) >= 1) return v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return v.toLocaleString("en-US", { maximumSignificantDigits: 3 });
  }

  function when(seconds) {
    return seconds ? new Date(seconds * 1000).toLocaleString() : "–";
  }

  function text(tag, content, className) {
    const cell = document.createElement(tag);
    cell.textContent = content === null || content === undefined ? "" : String(content);
    if (className) cell.className = className;
    return cell;
  }

  function fillTable(selector, rows, empty) {
    const body = $(selector + " tbody");
    body.replaceChildren();
    if (!rows.length) {
      const row = document.createElement("tr");
      const cell = text("td", empty, "muted");
      cell.colSpan = $(selector + " thead tr").children.length;
      row.append(cell);
      body.append(row);
      return;
    }
    for (const cells of rows) {
      const row = document.createElement("tr");
      for (const cell of cells) row.append(cell instanceof Node ? cell : text("td", cell));
      body.append(row);
    }
  }

  async function getJson(url) {
    const response = await fetch(url, { cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function showMessage(selector, message) {
    const element = $(selector);
    element.hidden = !message;
    element.textContent = message || "";
  }

  // -- URL: the tenant and the prices live in the query string, so a view can be shared --------

  function readQuery() {
    const query = new URLSearchParams(window.location.search);
    for (const name of PRICE_FIELDS) {
      const value = query.get(name);
      if (value !== null) $(`#cost-form input[name=${name}]`).value = value;
    }
    return query.get("tenant");
  }

  function writeQuery() {
    const query = new URLSearchParams();
    if (state.tenant) query.set("tenant", state.tenant);
    for (const [name, value] of priceEntries()) query.set(name, value);
    const search = query.toString();
    window.history.replaceState(null, "", search ? "?" + search : window.location.pathname);
  }

  function priceEntries() {
    return PRICE_FIELDS.map((name) => [name, $(`#cost-form input[name=${name}]`).value.trim()]).filter(
      ([, value]) => value !== ""
    );
  }

  // -- charts -----------------------------------------------------------------------------------

  function marks(view) {
    const found = [];
    for (const alert of view.alerts) {
      if (alert.time_s) found.push({ time: alert.time_s, color: COLORS.alert });
    }
    for (const job of view.jobs) {
      if (job.finished_s && JOB_MARKS.has(job.state)) found.push({ time: job.finished_s, color: COLORS[job.state] });
    }
    return found;
  }

  function markPlugin(getMarks) {
    return {
      hooks: {
        draw: [
          (u) => {
            const [min, max] = [u.scales.x.min, u.scales.x.max];
            const ctx = u.ctx;
            ctx.save();
            ctx.lineWidth = 2 * devicePixelRatio;
            for (const mark of getMarks()) {
              if (mark.time < min || mark.time > max) continue;
              const x = Math.round(u.valToPos(mark.time, "x", true));
              ctx.strokeStyle = mark.color;
              ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    };
  }

  function chartWidth(element) {
    return Math.max(320, element.clientWidth - 8);
  }

  function makeChart(id, series, yRange, valueFormat, withMarks) {
    const element = document.getElementById(id);
    element.replaceChildren();
    const options = {
      width: chartWidth(element),
      height: 220,
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width || 2,
          dash: s.dash,
          spanGaps: false,
          value: (u, v) => valueFormat(v),
        })),
      ],
      scales: { x: { time: true }, y: yRange ? { range: yRange } : { auto: true } },
      axes: [
        { values: (u, ticks) => ticks.map(clock), space: 90 },
        { values: (u, ticks) => ticks.map(valueFormat), size: 64 },
      ],
      legend: { live: true },
      plugins: withMarks ? [markPlugin(() => (state.view ? marks(state.view) : []))] : [],
    };
    const empty = [[], ...series.map(() => [])];
    return new uPlot(options, empty, element);
  }

  function createCharts() {
    for (const chart of Object.values(state.charts)) chart.destroy();
    state.charts = {
      hitRatio: makeChart(
        "chart-hit-ratio",
        [
          { label: "with prefetching", color: COLORS.real },
          { label: "without (shadow)", color: COLORS.shadow },
        ],
        [0, 1],
        percent,
        true
      ),
      saved: makeChart(
        "chart-saved",
        [
          { label: "misses avoided", color: COLORS.real },
          { label: "prefetch loads", color: COLORS.loads, dash: [4, 4] },
          { label: "net saved", color: COLORS.net },
        ],
        null,
        count,
        true
      ),
      precision: makeChart(
        "chart-precision",
        [
          { label: "learned, last 256", color: COLORS.real },
          { label: "all prefetches", color: COLORS.shadow },
          { label: "target", color: COLORS.target, dash: [6, 4], width: 1 },
        ],
        [0, 1],
        percent,
        false
      ),
      readLatency: makeChart(
        "chart-read-latency",
        [
          { label: "GET p50", color: COLORS.real },
          { label: "GET p99", color: COLORS.shadow },
        ],
        null,
        (v) => number(v, 1),
        false
      ),
      latency: makeChart(
        "chart-latency",
        [
          { label: "p50", color: COLORS.real },
          { label: "p99", color: COLORS.shadow },
        ],
        null,
        (v) => number(v, 0),
        false
      ),
    };
  }

  function updateCharts(series) {
    const t = series.time;
    state.charts.hitRatio.setData([t, series.hit_ratio, series.shadow_hit_ratio]);
    state.charts.saved.setData([t, series.misses_avoided, series.prefetches, series.net_origin_reads_saved]);
    state.charts.precision.setData([t, series.precision_recent, series.precision_all, series.precision_target]);
    state.charts.readLatency.setData([t, series.get_p50_us, series.get_p99_us]);
    state.charts.latency.setData([t, series.latency_p50_us, series.latency_p99_us]);
    // Each legend shows its chart's newest values until the pointer picks another point.
    for (const chart of Object.values(state.charts)) {
      const idx = newestIndex(chart.data);
      if (idx !== null) chart.setLegend({ idx });
    }
  }

  function newestIndex(data) {
    for (let i = data[0].length - 1; i >= 0; i--) {
      if (data.slice(1).some((values) => values[i] !== null && values[i] !== undefined)) return i;
    }
    return null;
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  // -- the tenant's numbers ---------------------------------------------------------------------

  function setValue(name, display, raw) {
    const element = document.getElementById("v-" + name);
    element.textContent = display;
    element.dataset.value = raw === null || raw === undefined ? "" : String(raw);
  }

  function updateSummary(latest) {
    const l = latest || {};
    const hitRatio = l.quality_enabled ? l.quality_hit_ratio : l.hit_ratio;
    setValue("quality_hit_ratio", percent(hitRatio), hitRatio);
    setValue("shadow_hit_ratio", l.quality_enabled === false ? "shadow off" : percent(l.shadow_hit_ratio), l.shadow_hit_ratio);
    setValue("live_gain", points(l.live_gain), l.live_gain);
    setValue("misses_avoided", count(l.misses_avoided), l.misses_avoided);
    setValue("net_origin_reads_saved", count(l.net_origin_reads_saved), l.net_origin_reads_saved);
    setValue("precision_recent", percent(l.precision_recent), l.precision_recent);
    setValue("precision_target", percent(l.precision_target), l.precision_target);
    setValue("serving_version", l.serving_version || "none", l.serving_version);
    setValue("prefetcher_state", l.prefetcher_state ? "prefetcher: " + l.prefetcher_state : "", l.prefetcher_state);
    if (l.sample_rate !== null && l.sample_rate !== undefined && l.sample_rate < 1) {
      showMessage("#message", `The shadow replays ${percent(l.sample_rate)} of this tenant's keys (a large cache): ` +
        "its counts are of those keys' reads, and the net origin reads saved are not shown.");
    } else if (l.quality_enabled === false) {
      showMessage("#message", "The cache runs without its shadow (PREDIS_CACHE_SHADOW=off): there is no " +
        "no-prefetch baseline, so the hit ratio is shown alone.");
    } else {
      showMessage("#message", "");
    }
  }

  function updateTables(view) {
    $("#drift-phase").textContent = view.drift_phase || "no events seen";
    fillTable(
      "#alerts",
      view.alerts.map((a) => [when(a.time_s), a.severity, a.detector, a.signal, number(a.effect_size, 3), a.message]),
      "no drift alerts"
    );
    fillTable(
      "#models",
      view.models.map((m) => [
        m.version,
        m.scope || "global",
        m.role,
        percent(m.traffic_weight),
        when(m.loaded_s),
        percent(m.precision),
        number(m.latency_p50_us, 0),
      ]),
      "no model loaded"
    );
    fillTable(
      "#jobs",
      view.jobs.map((j) => {
        const v = j.validation;
        const gain = v ? `${points(v.hit_ratio_difference)} (${points(v.ci_low)} to ${points(v.ci_high)})` : "";
        return [
          when(j.finished_s),
          text("td", j.state, "state-" + j.state),
          j.scope || "global",
          j.candidate_version,
          j.parent_version || j.previous_champion,
          j.trigger,
          gain,
          j.note || j.error,
        ];
      }),
      "no retraining jobs"
    );
  }

  // -- cost view --------------------------------------------------------------------------------

  function updateCost(cost) {
    state.cost = cost;
    if (cost.note) {
      fillTable("#cost-lines", [], cost.note);
      fillTable("#cost-quantities", [], cost.note);
      return;
    }
    fillTable(
      "#cost-lines",
      cost.lines.map((line) => {
        const shown = money(line.money);
        const moneyCell = text("td", shown === null ? "" : shown, shown === null ? "muted" : "money");
        moneyCell.dataset.key = line.key;
        moneyCell.dataset.value = line.money === null ? "" : String(line.money);
        if (shown === null) {
          moneyCell.textContent = line.missing.length ? "enter " + line.missing.join(", ") : line.note || "not measured";
        }
        return [
          text("td", line.label, line.key === "net" ? "strong" : ""),
          line.formula,
          line.key === "net" ? "" : line.count === null ? line.note || "not measured" : number(line.count),
          line.price === null ? "" : number(line.price),
          moneyCell,
        ];
      }),
      "no lines"
    );
    fillTable(
      "#cost-quantities",
      Object.values(cost.quantities).map((q) => [q.label, q.value === null ? "not measured" : number(q.value), q.source, q.note]),
      "no quantities"
    );
  }

  async function refreshCost() {
    if (!state.tenant) return;
    const query = new URLSearchParams(priceEntries());
    try {
      const cost = await getJson(`/api/tenants/${encodeURIComponent(state.tenant)}/cost?${query}`);
      showMessage("#cost-error", "");
      updateCost(cost);
    } catch (error) {
      showMessage("#cost-error", error.message);
    }
    state.costRefreshes += 1;
  }

  // -- the loop ---------------------------------------------------------------------------------

  function updateSuite(suite) {
    state.suite = suite;
    const select = $("#tenant");
    const names = suite.tenants;
    if ([...select.options].map((o) => o.value).join() !== names.join()) {
      select.replaceChildren(...names.map((name) => new Option(name, name)));
    }
    if (!state.tenant || !names.includes(state.tenant)) state.tenant = names[0] || null;
    select.value = state.tenant;
    const services = $("#services");
    services.replaceChildren(
      ...Object.entries(suite.services).map(([name, s]) => {
        const badge = text("span", name, s.ok ? "service ok" : "service down");
        badge.title = s.ok ? "answered the last call" : s.error;
        return badge;
      })
    );
    const note = $("#read-latency-note");
    note.hidden = suite.cache_metrics_url !== null;
    note.textContent = suite.cache_metrics_url === null
      ? "Not charted: the dashboard has no cache metrics page to read. Set PREDIS_DASHBOARD_CACHE_METRICS to " +
        "the cache's http://HOST:PORT/metrics (predis up does) and turn the cache's metrics on (PREDIS_METRICS_LISTEN)."
      : "";
    $("#last-poll").textContent = suite.last_poll_s
      ? `last poll ${when(suite.last_poll_s)}, every ${suite.poll_interval_s}s`
      : "waiting for the first poll";
  }

  async function refresh() {
    try {
      updateSuite(await getJson("/api/suite"));
      if (state.tenant) {
        const view = await getJson(`/api/tenants/${encodeURIComponent(state.tenant)}`);
        state.view = view;
        updateSummary(view.latest);
        updateCharts(view.series);
        updateTables(view);
        await refreshCost();
      }
      writeQuery();
    } catch (error) {
      showMessage("#message", "The dashboard could not be read: " + error.message);
    }
    state.refreshes += 1;
  }

  function schedule() {
    const seconds = state.suite ? Math.max(1, state.suite.poll_interval_s) : 2;
    window.setTimeout(async () => {
      await refresh();
      schedule();
    }, seconds * 1000);
  }

  let costTimer = null;
  function onPriceInput() {
    window.clearTimeout(costTimer);
    costTimer = window.setTimeout(() => {
      writeQuery();
      refreshCost();
    }, 250);
  }

  window.addEventListener("resize", () => {
    for (const [name, chart] of Object.entries(state.charts)) {
      const element = chart.root.parentElement;
      chart.setSize({ width: chartWidth(element), height: 220 });
      state.charts[name] = chart;
    }
  });

  document.addEventListener("DOMContentLoaded", async () => {
    state.tenant = readQuery();
    createCharts();
    $("#tenant").addEventListener("change", async (event) => {
      state.tenant = event.target.value;
      createCharts();
      await refresh();
    });
    $("#cost-form").addEventListener("input", onPriceInput);
    $("#cost-form").addEventListener("submit", (event) => event.preventDefault());
    await refresh();
    schedule();
  });
})();
