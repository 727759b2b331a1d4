// LlmServer status dashboard: polls the system, usage and request APIs and draws Chart.js charts.
// No build step. The master key (when the server has one) is kept in sessionStorage only.
(function () {
  "use strict";

  const params = new URLSearchParams(location.search);
  const refreshMs = Math.max(1000, Number(params.get("refresh") || 5) * 1000);
  const windowMinutes = Number(params.get("minutes") || 60);
  const maxPoints = 120;
  const keyStorage = "llmserver.masterKey";
  const palette = ["#38bdf8", "#a78bfa", "#f472b6", "#facc15", "#34d399", "#fb923c", "#60a5fa", "#f87171"];

  const state = { charts: {}, lastRefresh: null, refreshes: 0, errors: [], prevStatus: null };
  window.llmDashboard = state; // read by the browser test

  const $ = (id) => document.getElementById(id);
  const num = (v) => (typeof v === "number" && isFinite(v) ? v : (typeof v === "string" && v !== "" && isFinite(+v) ? +v : null));
  // First defined value among dotted paths: tolerant of small shape differences between endpoints.
  function pick(obj, ...paths) {
    for (const p of paths) {
      let v = obj;
      for (const k of p.split(".")) { v = v == null ? undefined : v[k]; }
      if (v !== undefined && v !== null) return v;
    }
    return undefined;
  }
  const fmt = (v, d = 0) => (v == null ? "–" : Number(v).toLocaleString("ko-KR", { maximumFractionDigits: d, minimumFractionDigits: d }));
  const usd = (v) => (v == null ? "–" : "$" + Number(v).toFixed(Number(v) < 1 ? 6 : 2));
  const timeLabel = (d) => d.toLocaleTimeString("ko-KR", { hour12: false });

  // The operations API wraps answers as {"success":true,"data":...}; the system API does not.
  const unwrap = (j) => (j && typeof j === "object" && "success" in j && "data" in j ? j.data : j);

  async function api(path) {
    const headers = { "Accept": "application/json" };
    const key = sessionStorage.getItem(keyStorage);
    if (key) headers["Authorization"] = "Bearer " + key;
    const res = await fetch(path, { headers, cache: "no-store" });
    if (res.status === 401 || res.status === 403) { const e = new Error("unauthorized"); e.status = res.status; throw e; }
    if (!res.ok && res.status !== 503) throw new Error(path + " → HTTP " + res.status);
    return unwrap(await res.json());
  }

  function lineChart(id, datasets, yTitle) {
    const ctx = $(id);
    if (!ctx || !window.Chart) return null;
    return new Chart(ctx, {
      type: "line",
      data: { labels: [], datasets: datasets.map((d, i) => ({ label: d, data: [], borderColor: palette[i], backgroundColor: palette[i] + "33", tension: 0.25, pointRadius: 0, fill: false })) },
      options: chartOptions(yTitle),
    });
  }

  function barChart(id, yTitle) {
    const ctx = $(id);
    if (!ctx || !window.Chart) return null;
    const o = chartOptions(yTitle);
    o.scales.x.stacked = true; o.scales.y.stacked = true;
    return new Chart(ctx, { type: "bar", data: { labels: [], datasets: [] }, options: o });
  }

  function chartOptions(yTitle) {
    return {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { labels: { color: "#cbd5e1", boxWidth: 12 } } },
      scales: {
        x: { ticks: { color: "#94a3b8", maxTicksLimit: 8 }, grid: { color: "#33415555" } },
        y: { beginAtZero: true, title: { display: !!yTitle, text: yTitle, color: "#94a3b8" }, ticks: { color: "#94a3b8" }, grid: { color: "#33415555" } },
      },
    };
  }

  function push(chart, label, values) {
    if (!chart) return;
    chart.data.labels.push(label);
    chart.data.datasets.forEach((ds, i) => ds.data.push(values[i] ?? null));
    if (chart.data.labels.length > maxPoints) {
      chart.data.labels.shift();
      chart.data.datasets.forEach((ds) => ds.data.shift());
    }
    chart.update();
  }

  function setSeries(chart, labels, series) {
    if (!chart) return;
    chart.data.labels = labels;
    chart.data.datasets = Object.keys(series).map((name, i) => ({ label: name, data: series[name], backgroundColor: palette[i % palette.length], borderColor: palette[i % palette.length], stack: "s" }));
    chart.update();
  }

  function renderComponents(status) {
    const comps = pick(status, "components", "checks", "entries") || {};
    const list = $("components");
    list.innerHTML = "";
    const entries = Array.isArray(comps) ? comps.map((c) => [c.name, c]) : Object.entries(comps);
    for (const [name, c] of entries) {
      const s = String(typeof c === "string" ? c : pick(c, "status", "state") ?? "").toLowerCase();
      const li = document.createElement("li");
      li.className = /healthy|ok|up|configured|true/.test(s) && !/unhealthy/.test(s) ? "ok" : /degraded|warn|not_configured|missing/.test(s) ? "warn" : "bad";
      const detail = typeof c === "object" ? (pick(c, "description", "detail", "message") || "") : "";
      li.textContent = name + ": " + (s || "?") + (detail ? " — " + detail : "");
      list.appendChild(li);
    }
    if (!entries.length) list.innerHTML = "<li class='warn'>–</li>";
  }

  function renderSystem(status, info, now) {
    const requests = num(pick(status, "requests.total", "requests"));
    const clientErrors = num(pick(status, "requests.client_errors"));
    const serverErrors = num(pick(status, "requests.server_errors"));
    const errors = clientErrors != null || serverErrors != null ? (clientErrors || 0) + (serverErrors || 0)
      : num(pick(status, "requests.errors", "errors"));
    const p50 = num(pick(status, "requests.latency_ms_p50", "latency.p50_ms", "p50_ms"));
    const p95 = num(pick(status, "requests.latency_ms_p95", "latency.p95_ms", "p95_ms"));
    const cpu = num(pick(info, "cpu.percent")) ?? num(pick(status, "cpu_percent"));
    const rssBytes = num(pick(info, "process.working_set_bytes")) ?? num(pick(status, "memory_working_set_bytes"));
    const rssMb = rssBytes != null ? rssBytes / 1048576 : null;

    if (state.version) $("version").textContent = "v" + state.version;
    const up = num(pick(status, "uptime_seconds", "uptime.seconds"));
    $("uptime").textContent = up != null ? "가동 " + fmt(up / 60, 1) + "분" : "";
    $("cpu").textContent = cpu != null ? fmt(cpu, 1) + " %" : "–";
    $("cpu-detail").textContent = (pick(info, "os.description") || "") + " · " + (pick(info, "dotnet.framework") || "");
    $("memory").textContent = rssMb != null ? fmt(rssMb, 0) + " MB" : "–";
    const gcHeap = num(pick(info, "gc.heap_size_bytes"));
    $("memory-detail").textContent = gcHeap != null ? "GC heap " + fmt(gcHeap / 1048576, 1) + " MB" : "";
    $("requests").textContent = fmt(requests);
    $("requests-detail").textContent = "오류 errors " + fmt(errors);
    $("latency").textContent = p95 != null ? fmt(p95, 1) + " ms" : "–";
    $("latency-detail").textContent = "p95 · p50 " + fmt(p50, 1) + " ms";

    let rate = 0, errRate = 0;
    const prev = state.prevStatus;
    if (prev && requests != null && prev.requests != null) {
      const dt = (now - prev.time) / 1000;
      if (dt > 0) { rate = Math.max(0, (requests - prev.requests) / dt); errRate = Math.max(0, ((errors ?? 0) - (prev.errors ?? 0)) / dt); }
    }
    state.prevStatus = { time: now, requests, errors };
    const label = timeLabel(now);
    push(state.charts.rate, label, [rate, errRate]);
    push(state.charts.latency, label, [p50, p95]);
    push(state.charts.system, label, [cpu, rssMb]);
  }

  // Server-side time series: /api/v1/usage/timeseries?bucket=minute&by=model|key.
  function seriesFrom(ts, field, now) {
    const bucketMs = 60000;
    const first = Math.floor((now.getTime() - windowMinutes * 60000) / bucketMs) * bucketMs;
    const labels = [];
    for (let t = first; t <= now.getTime(); t += bucketMs) labels.push(t);
    const index = new Map(labels.map((t, i) => [t, i]));
    const series = {};
    for (const p of (ts && ts.points) || []) {
      const i = index.get(Math.floor(new Date(p.start).getTime() / bucketMs) * bucketMs);
      if (i === undefined) continue;
      const name = p.group || "(none)";
      const v = field(p.totals || {});
      (series[name] ||= new Array(labels.length).fill(0))[i] += v || 0;
    }
    return { labels: labels.map((t) => timeLabel(new Date(t)).slice(0, 5)), series };
  }

  function renderSeries(byModel, byKey, now) {
    const tokens = seriesFrom(byModel, (t) => (num(t.input_tokens) || 0) + (num(t.output_tokens) || 0), now);
    setSeries(state.charts.tokensModel, tokens.labels, tokens.series);
    const costModel = seriesFrom(byModel, (t) => num(t.cost_usd), now);
    setSeries(state.charts.costModel, costModel.labels, costModel.series);
    const costKey = seriesFrom(byKey, (t) => num(t.cost_usd), now);
    setSeries(state.charts.costKey, costKey.labels, costKey.series);
  }

  function renderRequests(page) {
    const items = Array.isArray(page) ? page : (pick(page, "data", "items", "requests") || []);
    const tbody = $("recent");
    tbody.innerHTML = "";
    for (const r of items.slice(0, 25)) {
      const tr = document.createElement("tr");
      const status = num(pick(r, "status", "status_code")) ?? 0;
      const cells = [
        new Date(pick(r, "timestamp", "time", "created_at")).toLocaleString("ko-KR", { hour12: false }),
        pick(r, "route") || "", pick(r, "model") || "", pick(r, "key_name", "key_prefix", "key_id") || "",
        String(status), fmt(pick(r, "input_tokens")) + " / " + fmt(pick(r, "output_tokens")),
        usd(num(pick(r, "cost_usd"))), fmt(pick(r, "latency_ms"), 1),
      ];
      cells.forEach((c, i) => { const td = document.createElement("td"); td.textContent = c; if (i === 4 && status >= 400) td.className = "bad"; tr.appendChild(td); });
      tbody.appendChild(tr);
    }
  }

  function renderUsage(usage) {
    const total = num(pick(usage, "total.cost_usd", "totals.cost_usd", "cost_usd"));
    const reqs = num(pick(usage, "total.requests", "totals.requests", "requests"));
    $("cost").textContent = usd(total);
    $("cost-detail").textContent = "최근 " + windowMinutes + "분 · " + fmt(reqs) + " requests";
  }

  async function refresh() {
    const now = new Date();
    const from = new Date(now.getTime() - windowMinutes * 60000).toISOString();
    try {
      const optional = (p) => p.catch((e) => { if (e.status) throw e; state.errors.push(String(e.message || e)); return null; });
      const range = "&from=" + encodeURIComponent(from);
      const [status, info, usage, page, byModel, byKey] = await Promise.all([
        api("/api/v1/system/status"),
        optional(api("/api/v1/system/info")),
        optional(api("/api/v1/usage?group_by=model" + range)),
        optional(api("/api/v1/usage/requests?limit=25")),
        optional(api("/api/v1/usage/timeseries?bucket=minute&by=model" + range)),
        optional(api("/api/v1/usage/timeseries?bucket=minute&by=key" + range)),
      ]);
      $("auth").classList.add("hidden");
      $("main").classList.remove("hidden");
      if (!state.version) await loadVersion();
      renderComponents(status);
      renderSystem(status, info, now);
      if (usage) renderUsage(usage);
      if (page) renderRequests(page);
      renderSeries(byModel, byKey, now);
      state.lastRefresh = now.toISOString();
      state.refreshes++;
      $("refreshed").textContent = "갱신 " + timeLabel(now);
    } catch (e) {
      if (e.status === 401 || e.status === 403) {
        $("auth").classList.remove("hidden");
        $("main").classList.add("hidden");
        if (sessionStorage.getItem(keyStorage)) $("auth-error").textContent = "키가 맞지 않습니다 (invalid key)";
      } else {
        state.errors.push(String(e.message || e));
        $("refreshed").textContent = "오류 " + (e.message || e);
      }
    }
  }

  async function loadVersion() {
    try { state.version = pick(await api("/api/v1/"), "version"); } catch (e) { /* shown on the next refresh */ }
  }

  function init() {
    state.charts.rate = lineChart("chart-rate", ["req/s", "errors/s"], "/s");
    state.charts.latency = lineChart("chart-latency", ["p50", "p95"], "ms");
    state.charts.system = lineChart("chart-system", ["CPU %", "RSS MB"], "");
    state.charts.tokensModel = barChart("chart-tokens-model", "tokens");
    state.charts.costModel = barChart("chart-cost-model", "USD");
    state.charts.costKey = barChart("chart-cost-key", "USD");
    $("auth").addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(keyStorage, $("auth-key").value.trim());
      $("auth-key").value = "";
      refresh();
    });
    loadVersion().finally(refresh);
    setInterval(refresh, refreshMs);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
