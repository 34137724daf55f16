// labwire dashboard: plain browser JavaScript, served from the binary. Devices and their attrs
// come from /api/devices, live readings from /api/stream (SSE), history from /api/samples.
/* global uPlot */
"use strict";
(() => {
  const MAX_POINTS = 100_000;
  const TOKEN_KEY = "labwire-token";
  const $ = (sel, root = document) => root.querySelector(sel);
  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "dataset") Object.assign(e.dataset, v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };

  const state = { devices: new Map(), windowS: 300, scan: null };

  function fmt(v, attr) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number") {
      if (attr && Number.isInteger(attr.precision)) return v.toFixed(attr.precision);
      if (Number.isInteger(v)) return String(v);
      const a = Math.abs(v);
      return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : String(+v.toPrecision(6));
    }
    if (Array.isArray(v)) return `[${v.length}]`;
    return String(v);
  }

  async function api(method, path, body) {
    const headers = {};
    const token = localStorage.getItem(TOKEN_KEY);
    if (token && method !== "GET") headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (res.status === 401 && method !== "GET") {
      const t = prompt("This server needs a token for changes. Token:");
      if (t) {
        localStorage.setItem(TOKEN_KEY, t.trim());
        return api(method, path, body);
      }
    }
    if (!res.ok) throw new Error(data?.error?.message ?? `${res.status} ${res.statusText}`);
    return data;
  }

  // ---- charts ---------------------------------------------------------------------------------
  class Chart {
    constructor(container, names, units) {
      this.container = container;
      this.names = names;
      this.t = [];
      this.ys = names.map(() => []);
      this.live = true;
      this.dirty = false;
      const palette = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777"];
      this.button = el("button", { class: "live hidden", onclick: () => this.goLive() }, "Live");
      this.message = el("div", { class: "note" });
      container.append(this.button);
      // One y scale per unit, so run hours (~70,000 h) do not flatten a pressure trace; the
      // first two units get an axis (left, right), compact labels so they are never clipped.
      const scaleOf = (i) => `y:${units[i] || ""}`;
      this.scaleKeys = [...new Set(names.map((_, i) => scaleOf(i)))];
      const compact = new Intl.NumberFormat(undefined, {
        notation: "compact",
        maximumSignificantDigits: 4,
      });
      const opts = {
        width: Math.max(200, container.clientWidth || 320),
        height: 180,
        cursor: { drag: { x: true, y: false, setScale: false } },
        legend: { live: true },
        scales: { x: { time: true }, ...Object.fromEntries(this.scaleKeys.map((k) => [k, {}])) },
        axes: [
          {},
          ...this.scaleKeys.slice(0, 2).map((k, j) => ({
            scale: k,
            side: j === 0 ? 3 : 1,
            size: 56,
            grid: { show: j === 0 },
            values: (_u, vals) => vals.map((v) => compact.format(v)),
          })),
        ],
        series: [
          {},
          ...names.map((n, i) => ({
            scale: scaleOf(i),
            label: units[i] ? `${n} (${units[i]})` : n,
            stroke: palette[i % palette.length],
            width: 1.5,
            points: { show: false },
          })),
        ],
        hooks: {
          setSelect: [(u) => {
            if (u.select.width < 5) return;
            const from = u.posToVal(u.select.left, "x");
            const to = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.zoom(from, to);
          }],
        },
      };
      this.plot = new uPlot(opts, [[], ...names.map(() => [])], container);
      container.append(this.message);
      new ResizeObserver(() => {
        const w = container.clientWidth;
        if (w > 0 && Math.abs(w - this.plot.width) > 2) {
          this.plot.setSize({ width: w, height: 180 });
        }
      }).observe(container);
    }
    push(t, values) {
      this.t.push(t);
      this.names.forEach((n, i) => {
        const v = values[n];
        this.ys[i].push(typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : null);
      });
      if (this.t.length > MAX_POINTS + 10_000) {
        const cut = this.t.length - MAX_POINTS;
        this.t.splice(0, cut);
        for (const y of this.ys) y.splice(0, cut);
      }
      this.dirty = true;
    }
    get points() {
      return this.t.length;
    }
    draw(force = false) {
      if (!this.live || !this.dirty) return;
      // A chart that takes long to draw (100,000 points) is redrawn less often, so the page
      // stays responsive: at most a fifth of the time goes to redrawing it.
      const now0 = performance.now();
      if (!force && now0 - (this.lastDraw ?? 0) < (this.drawMs ?? 0) * 5) return;
      this.dirty = false;
      const now = Date.now() / 1000;
      // Only the rolling window is handed to uPlot; older points stay in memory for the window menu.
      let lo = 0, hi = this.t.length;
      const min = now - state.windowS;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.t[mid] < min) lo = mid + 1;
        else hi = mid;
      }
      const data = [this.t.slice(lo), ...this.ys.map((y) => y.slice(lo))];
      this.plot.batch(() => {
        this.plot.setData(data, false);
        this.plot.setScale("x", { min, max: now });
        for (const k of this.scaleKeys) this.plot.setScale(k, {});
      });
      this.plot.redraw(true, true);
      this.lastDraw = now0;
      // uPlot paints in a microtask; measure the whole redraw.
      queueMicrotask(() => (this.drawMs = performance.now() - now0));
    }
    goLive() {
      this.live = true;
      this.dirty = true;
      this.button.classList.add("hidden");
      this.message.textContent = "";
      this.draw();
    }
    /** Recorded history of [from, to] as uPlot data (each bucket drawn as its min, then its max). */
    async history(from, to) {
      const device = this.container.dataset.device;
      const maxPoints = Math.max(100, Math.round(this.plot.width));
      const series = await Promise.all(
        this.names.map((attr) =>
          api(
            "GET",
            `/api/samples?device=${encodeURIComponent(device)}&attr=${
              encodeURIComponent(attr)
            }&from=${from}&to=${to}&max_points=${maxPoints}`,
          )
        ),
      );
      const rows = new Map();
      series.forEach((s, i) => {
        const half = s.bucket ? s.bucket / 2 : 0;
        s.t.forEach((t, k) => {
          for (const [tt, v] of half ? [[t, s.min[k]], [t + half, s.max[k]]] : [[t, s.min[k]]]) {
            const row = rows.get(tt) ?? new Array(this.names.length).fill(null);
            row[i] = v;
            rows.set(tt, row);
          }
        });
      });
      const ts = [...rows.keys()].sort((a, b) => a - b);
      const data = [ts, ...this.names.map((_, i) => ts.map((t) => rows.get(t)[i]))];
      return { data, rows: series.reduce((a, s) => a + s.rows, 0) };
    }
    /** Fills the rolling window with recorded history, so a reloaded page is not empty. */
    async seed() {
      const now = Date.now() / 1000;
      try {
        const { data } = await this.history(now - state.windowS, now);
        const first = this.t[0] ?? Infinity;
        const n = data[0].findIndex((t) => t >= first);
        const keep = n < 0 ? data[0].length : n;
        this.t.unshift(...data[0].slice(0, keep));
        this.ys.forEach((y, i) => y.unshift(...data[i + 1].slice(0, keep)));
        this.dirty = true;
      } catch {
        // no session (or nothing recorded yet): the chart fills live
      }
    }
    async zoom(from, to) {
      this.live = false;
      this.button.classList.remove("hidden");
      try {
        const { data, rows } = await this.history(from, to);
        this.plot.setData(data, false);
        this.plot.setScale("x", { min: from, max: to });
        this.message.textContent = `history: ${rows} recorded rows`;
        this.message.className = "note";
      } catch (err) {
        this.message.textContent = `history unavailable: ${err.message}`;
        this.message.className = "error";
        const data = [this.t, ...this.ys];
        this.plot.setData(data, false);
        this.plot.setScale("x", { min: from, max: to });
      }
    }
  }

  // ---- devices --------------------------------------------------------------------------------
  function writeControl(dev, attr) {
    let input;
    if (attr.type === "enum") {
      input = el("select", {}, ...(attr.options ?? []).map((o) => el("option", { value: o }, o)));
    } else if (attr.type === "boolean") {
      input = el(
        "select",
        {},
        el("option", { value: "true" }, "true"),
        el("option", { value: "false" }, "false"),
      );
    } else {
      const numeric = attr.type === "number" || attr.type === "integer";
      input = el("input", {
        type: "text",
        inputmode: numeric ? "decimal" : undefined,
        placeholder: numeric && (attr.min !== undefined || attr.max !== undefined)
          ? `${attr.min ?? "…"}…${attr.max ?? "…"}`
          : attr.type,
        "aria-label": `${dev.name}.${attr.name}`,
        dataset: { write: `${dev.name}.${attr.name}` },
      });
    }
    const submit = async () => {
      let value = input.value;
      if (attr.type === "boolean") value = value === "true";
      else if (
        (attr.type === "number" || attr.type === "integer") && value.trim() !== "" &&
        Number.isFinite(Number(value))
      ) {
        value = Number(value);
      } else if (attr.type === "number[]") {
        value = value.split(/[,\s]+/).filter(Boolean).map(Number);
      }
      dev.error.textContent = "";
      try {
        const r = await api(
          "PUT",
          `/api/devices/${encodeURIComponent(dev.name)}/attrs/${encodeURIComponent(attr.name)}`,
          { value },
        );
        dev.error.textContent = "";
        dev.info.textContent = `${attr.name} ← ${fmt(r.value, attr)}`;
      } catch (err) {
        dev.error.textContent = err.message;
      }
    };
    input.addEventListener("keydown", (e) => e.key === "Enter" && submit());
    return el(
      "span",
      {},
      input,
      " ",
      el("button", { onclick: submit, dataset: { set: `${dev.name}.${attr.name}` } }, "Set"),
    );
  }

  function taskControls(dev, techniques) {
    const technique = el(
      "select",
      { "aria-label": "technique" },
      ...techniques.map((t) => el("option", { value: t }, t)),
    );
    const params = el("input", {
      type: "text",
      value: "{}",
      "aria-label": "params (JSON)",
      title: "params (JSON)",
    });
    const duration = el("input", {
      type: "text",
      placeholder: "max s",
      "aria-label": "max_duration (s)",
    });
    const status = el("span", { class: "task-status" });
    let current = null;
    let poll = null;
    const stop = el("button", {
      class: "hidden",
      onclick: async () => {
        if (!current) return;
        try {
          const r = await api("DELETE", `/api/tasks/${encodeURIComponent(current)}`);
          status.textContent = `${r.task.status} (${r.data.length} readings)`;
        } catch (err) {
          dev.error.textContent = err.message;
        }
      },
    }, "Stop");
    const start = el("button", {
      class: "primary",
      onclick: async () => {
        dev.error.textContent = "";
        try {
          const body = { technique: technique.value, params: JSON.parse(params.value || "{}") };
          if (duration.value.trim() !== "") body.max_duration = Number(duration.value);
          const t = await api("POST", `/api/devices/${encodeURIComponent(dev.name)}/tasks`, body);
          current = t.id;
          status.textContent = `${t.id}: ${t.status}`;
          stop.classList.remove("hidden");
          clearInterval(poll);
          poll = setInterval(async () => {
            try {
              const s = await api("GET", `/api/tasks/${encodeURIComponent(current)}`);
              status.textContent = `${s.id}: ${s.status}`;
              if (!["queued", "running"].includes(s.status)) {
                clearInterval(poll);
                stop.classList.add("hidden");
              }
            } catch {
              clearInterval(poll);
            }
          }, 1000);
        } catch (err) {
          dev.error.textContent = err.message;
        }
      },
    }, "Start");
    return el("div", { class: "tasks" }, "task", technique, params, duration, start, stop, status);
  }

  function renderDevice(summary, detail) {
    const dev = {
      name: summary.name,
      attrs: new Map(),
      cells: new Map(),
      chart: null,
      badge: el(
        "span",
        { class: `badge ${summary.state}`, dataset: { state: summary.name } },
        summary.state,
      ),
      error: el("div", { class: "error", dataset: { error: summary.name } }),
      info: el("div", { class: "task-status" }),
    };
    const rows = [];
    for (const attr of detail.attrs) {
      dev.attrs.set(attr.name, attr);
      const cell = el(
        "td",
        { class: "value", dataset: { value: `${summary.name}.${attr.name}` } },
        "—",
      );
      dev.cells.set(attr.name, cell);
      rows.push(el(
        "tr",
        {},
        el("td", { title: attr.description ?? "" }, attr.name),
        cell,
        el("td", { class: "units" }, attr.units ?? ""),
        el("td", { class: "write" }, attr.rw ? writeControl(dev, attr) : ""),
      ));
    }
    const card = el(
      "article",
      { class: "card", dataset: { device: summary.name } },
      el("h2", {}, summary.name, dev.badge, el("span", { class: "driver" }, summary.address)),
      el("table", {}, ...rows),
      dev.error,
      dev.info,
    );
    if (detail.attrs_error) dev.error.textContent = detail.attrs_error;
    const plotted = detail.attrs.filter((a) =>
      a.status && ["number", "integer", "boolean"].includes(a.type)
    );
    if (plotted.length > 0) {
      const box = el("div", {
        class: "chart",
        dataset: { device: summary.name, chart: summary.name },
      });
      card.append(box);
      requestAnimationFrame(() => {
        dev.chart = new Chart(box, plotted.map((a) => a.name), plotted.map((a) => a.units ?? ""));
        dev.chart.seed();
      });
    }
    card.append(taskControls(dev, ["sample", "hold", ...detail.techniques]));
    if (detail.last) update(dev, detail.last);
    $("#devices").append(card);
    state.devices.set(summary.name, dev);
  }

  function update(dev, reading) {
    const st = reading.error === undefined ? "up" : "down";
    dev.badge.textContent = st;
    dev.badge.className = `badge ${st}`;
    if (reading.error !== undefined) {
      dev.badge.title = reading.error;
      return;
    }
    dev.badge.title = "";
    for (const [name, v] of Object.entries(reading.values)) {
      const cell = dev.cells.get(name);
      if (cell) cell.textContent = fmt(v, dev.attrs.get(name));
    }
    dev.chart?.push(reading.t, reading.values);
  }

  // ---- alarms and scans -----------------------------------------------------------------------
  async function refreshAlarms() {
    try {
      const { active } = await api("GET", "/api/alarms");
      const list = $("#alarm-list");
      list.replaceChildren(
        ...(active.length === 0
          ? [el("li", { class: "none" }, "none active")]
          : active.map((a) =>
            el("li", { class: "alarm" }, a.message ?? a.name ?? JSON.stringify(a))
          )),
      );
    } catch {
      // the next refresh will try again
    }
  }

  function scanPoint(p) {
    const box = $("#scan-chart");
    const flat = {};
    for (const group of ["positions", "positioners", "readbacks", "detectors", "values"]) {
      for (const [k, v] of Object.entries(p[group] ?? {})) if (typeof v === "number") flat[k] ??= v;
    }
    const names = Object.keys(flat);
    if (names.length < 2) return;
    if (!state.scan || state.scan.id !== p.scan) {
      $("#scan").classList.remove("hidden");
      $("#scan-title").textContent = String(p.scan);
      box.replaceChildren();
      const plot = new uPlot(
        {
          width: Math.max(200, box.clientWidth || 320),
          height: 220,
          scales: { x: { time: false } },
          series: [
            { label: names[0] },
            ...names.slice(1).map((n) => ({ label: n, stroke: "#2563eb", points: { show: true } })),
          ],
        },
        [[], ...names.slice(1).map(() => [])],
        box,
      );
      state.scan = { id: p.scan, names, data: [[], ...names.slice(1).map(() => [])], plot };
    }
    const s = state.scan;
    s.names.forEach((n, i) => s.data[i].push(flat[n] ?? null));
    s.plot.setData(s.data);
  }

  // ---- live stream ----------------------------------------------------------------------------
  function connect() {
    const conn = $("#conn");
    const es = new EventSource("/api/stream");
    es.onopen = () => {
      conn.textContent = "live";
      conn.className = "badge up";
    };
    es.onerror = () => {
      conn.textContent = "reconnecting…";
      conn.className = "badge down";
    };
    es.addEventListener("reading", (e) => {
      const r = JSON.parse(e.data);
      const dev = state.devices.get(r.device);
      if (dev) update(dev, r);
    });
    es.addEventListener("alarm", () => refreshAlarms());
    es.addEventListener("scan_point", (e) => scanPoint(JSON.parse(e.data)));
  }

  function frame() {
    for (const dev of state.devices.values()) dev.chart?.draw();
    requestAnimationFrame(frame);
  }

  async function main() {
    $("#window").addEventListener("change", (e) => {
      state.windowS = Number(e.target.value);
      for (const dev of state.devices.values()) if (dev.chart) dev.chart.dirty = true;
    });
    const { devices } = await api("GET", "/api/devices");
    const details = await Promise.all(
      devices.map((d) =>
        api("GET", `/api/devices/${encodeURIComponent(d.name)}`).catch((err) => ({
          attrs: [],
          techniques: [],
          attrs_error: err.message,
          last: null,
        }))
      ),
    );
    devices.forEach((d, i) => renderDevice(d, details[i]));
    connect();
    refreshAlarms();
    setInterval(refreshAlarms, 5000);
    requestAnimationFrame(frame);
    globalThis.labwireDashboard.ready = true;
  }

  // For tests and the curious: how many points each chart holds.
  globalThis.labwireDashboard = {
    ready: false,
    points: (name) => state.devices.get(name)?.chart?.points ?? 0,
    scanPoints: () => state.scan?.data[0].length ?? 0,
    // What dragging across a chart does: show recorded history of that time range.
    zoom: (name, from, to) => state.devices.get(name)?.chart?.zoom(from, to),
    // Benchmarks: fill a chart with `n` points over the last `span` seconds, then time redraws.
    bench: async (name, n, span, redraws = 20) => {
      const chart = state.devices.get(name)?.chart;
      if (!chart) return undefined;
      const now = Date.now() / 1000;
      for (let i = 0; i < n; i++) {
        const t = now - span + (i * span) / n;
        chart.push(t, Object.fromEntries(chart.names.map((a, k) => [a, Math.sin(i / 500 + k)])));
      }
      const times = [];
      for (let i = 0; i < redraws; i++) {
        chart.dirty = true;
        const t0 = performance.now();
        chart.draw(true);
        // uPlot paints in a microtask after setData: wait for it before stopping the clock.
        await null;
        await null;
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      return { points: chart.points, median: times[times.length >> 1], max: times.at(-1) };
    },
  };
  main().catch((err) => {
    document.body.prepend(
      el("div", { class: "error" }, `dashboard failed to start: ${err.message}`),
    );
  });
})();
