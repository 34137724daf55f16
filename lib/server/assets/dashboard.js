// labwire dashboard: plain browser JavaScript, served from the binary. Devices and their attrs
// come from /api/devices, live readings from /api/stream (SSE), history from /api/samples.
//
// Read at a glance: per device the current values of its status attributes in large type with
// their units; one chart per attribute (attributes share a chart only when they have the same
// units and alike ranges, so 0.077 torr is never flattened by a 10 torr full scale); log scale by
// default for pressures; axis titles with units; local 24-hour time with the zone everywhere.
/* global uPlot */
"use strict";
(() => {
  const MAX_POINTS = 100_000;
  const TOKEN_KEY = "labwire-token";
  const HIDDEN_KEY = "labwire-hidden-series";
  const LOG_KEY = "labwire-log-scale";
  const SCAN_MODE_KEY = "labwire-scan-mode";
  const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777"];
  const PRESSURE_UNITS = new Set([
    "torr",
    "mtorr",
    "mbar",
    "bar",
    "pa",
    "hpa",
    "kpa",
    "psi",
    "atm",
  ]);
  const $ = (sel, root = document) => root.querySelector(sel);
  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "dataset") Object.assign(e.dataset, v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };

  const state = { devices: new Map(), windowS: 300, scan: null };

  // ---- persisted choices (legend toggles, log scales, scan mode) ------------------------------
  const stored = (key, fallback) => {
    try {
      return JSON.parse(localStorage.getItem(key)) ?? fallback;
    } catch {
      return fallback;
    }
  };
  const store = (key, value) => {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // private mode: choices last for this page only
    }
  };
  const hidden = new Set(stored(HIDDEN_KEY, []));
  const logChoice = stored(LOG_KEY, {});

  // ---- time: local, 24-hour, with the zone (as lib/output/time.ts prints it in tables) -------
  const two = (n) => String(n).padStart(2, "0");
  function zoneName(t) {
    const d = new Date(t * 1000);
    for (const locale of ["en-US", "en-GB"]) {
      const part = new Intl.DateTimeFormat(locale, { timeZoneName: "short" }).formatToParts(d)
        .find((p) => p.type === "timeZoneName")?.value ?? "";
      if (/^[A-Z]{2,5}$/.test(part)) return part;
    }
    const off = -d.getTimezoneOffset();
    if (off === 0) return "UTC";
    const a = Math.abs(off);
    return `UTC${off < 0 ? "-" : "+"}${two(Math.floor(a / 60))}:${two(a % 60)}`;
  }
  const ZONE = zoneName(Date.now() / 1000);
  function clock(t, seconds = true) {
    const d = new Date(t * 1000);
    const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
    return seconds ? `${hm}:${two(d.getSeconds())}` : hm;
  }
  const clockZ = (t) => `${clock(t)} ${ZONE}`;

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
  const compact = new Intl.NumberFormat(undefined, {
    notation: "compact",
    maximumSignificantDigits: 4,
  });
  /**
   * Axis tick labels with as many decimals as the tick spacing needs (1.2344, 1.2346, … not
   * 1.235 four times); very large or small values in compact or exponential form.
   */
  const ticks = (_u, splits) => {
    const step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 0;
    let decimals = step > 0 ? Math.min(8, Math.max(0, -Math.floor(Math.log10(step) + 1e-9))) : 2;
    const label = (v) => {
      if (v === null || v === undefined) return "";
      const a = Math.abs(v);
      if (a < 1e-12) return "0";
      if (a < 1e-3) return v.toExponential(Math.min(3, decimals > 4 ? decimals - 4 : 0));
      if (a >= 1e5) return compact.format(v);
      return v.toFixed(decimals);
    };
    let out = splits.map(label);
    // A step like 0.000025 needs one decimal more than its first digit says.
    while (decimals < 10 && new Set(out).size < out.length) {
      decimals++;
      out = splits.map(label);
    }
    return out;
  };
  /** Room for the widest tick label of a y axis (uPlot's default font is 12 px). */
  const axisSize = (_u, values) =>
    Math.max(40, 18 + 7.5 * Math.max(0, ...(values ?? []).map((v) => String(v).length)));
  /** Log-axis ticks: powers of ten and their multiples, each as short as it can be. */
  const logTicks = (_u, splits) =>
    splits.map((v) => {
      if (v === null || v === undefined) return "";
      const a = Math.abs(v);
      return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(0) : String(+v.toPrecision(3));
    });
  const isPressure = (attr) =>
    PRESSURE_UNITS.has((attr.units ?? "").toLowerCase()) || /pressure/.test(attr.name);
  const withUnits = (name, units) =>
    units && units !== name && !name.endsWith(`.${units}`) ? `${name} (${units})` : name;

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

  // ---- time-series charts ---------------------------------------------------------------------
  /** X axis ticks: HH:MM when every tick is on a whole minute, else HH:MM:SS. */
  const timeTicks = (_u, splits) => {
    const whole = splits.every((s) => Math.round(s) % 60 === 0);
    return splits.map((s) => clock(s, !whole));
  };

  class Chart {
    /**
     * One chart of a device: `attrs` share one y axis (same units, alike ranges), titled with
     * the name(s) and units; `log` is the default scale (pressures), a checkbox changes it.
     */
    constructor(container, device, attrs) {
      this.container = container;
      this.device = device;
      this.attrs = attrs;
      this.names = attrs.map((a) => a.name);
      this.units = attrs[0].units ?? "";
      this.key = `${device}:${this.names.join(",")}`;
      this.log = logChoice[this.key] ?? attrs.every(isPressure);
      this.t = [];
      this.ys = attrs.map(() => []);
      this.live = true;
      this.dirty = false;
      this.yLabel = withUnits(this.names.join(", "), this.units);
      this.xLabel = `time (${ZONE})`;
      container.dataset.yLabel = this.yLabel;
      const logBox = el("input", {
        type: "checkbox",
        checked: this.log,
        dataset: { log: this.key },
        onchange: (e) => this.setLog(e.target.checked),
      });
      this.title = el(
        "div",
        { class: "chart-title" },
        el("span", { class: "axis-title", dataset: { axisTitle: this.yLabel } }, this.yLabel),
        el("label", { class: "log" }, logBox, " log"),
      );
      this.button = el("button", { class: "live hidden", onclick: () => this.goLive() }, "Live");
      this.message = el("div", { class: "note" });
      container.append(this.title, this.button);
      this.box = el("div", { class: "plot" });
      container.append(this.box, this.message);
      this.build();
      new ResizeObserver(() => {
        const w = this.box.clientWidth;
        if (w > 0 && Math.abs(w - this.plot.width) > 2) {
          this.plot.setSize({ width: w, height: 160 });
        }
      }).observe(this.box);
    }
    build() {
      this.plot?.destroy();
      const log = this.log;
      this.container.dataset.scale = log ? "log" : "linear";
      const opts = {
        width: Math.max(200, this.box.clientWidth || 320),
        height: 160,
        cursor: { drag: { x: true, y: false, setScale: false } },
        legend: { live: true },
        scales: { x: { time: true }, y: log ? { distr: 3, log: 10 } : {} },
        axes: [
          { label: this.xLabel, labelSize: 18, values: timeTicks, size: 30 },
          { label: this.yLabel, labelSize: 18, size: axisSize, values: log ? logTicks : ticks },
        ],
        series: [
          {
            label: `time (${ZONE})`,
            value: (_u, v) => v === null || v === undefined ? "—" : clockZ(v),
          },
          ...this.attrs.map((a, i) => ({
            label: this.attrs.length > 1 ? a.name : withUnits(a.name, a.units),
            stroke: PALETTE[i % PALETTE.length],
            width: 1.5,
            points: { show: false },
            show: !hidden.has(`${this.device}.${a.name}`),
            value: (_u, v) => v === null || v === undefined ? "—" : fmt(v, a),
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
          // Legend clicks toggle series; the choice survives a reload.
          setSeries: [(u, i) => {
            if (!i) return;
            const name = `${this.device}.${this.names[i - 1]}`;
            if (u.series[i].show) hidden.delete(name);
            else hidden.add(name);
            store(HIDDEN_KEY, [...hidden]);
          }],
        },
      };
      this.plot = new uPlot(opts, [[], ...this.attrs.map(() => [])], this.box);
      this.dirty = true;
    }
    setLog(on) {
      this.log = on;
      logChoice[this.key] = on;
      store(LOG_KEY, logChoice);
      this.build();
      this.draw(true);
    }
    push(t, values) {
      this.t.push(t);
      const synced = this.logYs && this.logYs[0]?.length === this.t.length - 1;
      this.names.forEach((n, i) => {
        const v = values[n];
        const y = typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : null;
        this.ys[i].push(y);
        if (synced) this.logYs[i].push(y > 0 ? y : null);
      });
      if (this.t.length > MAX_POINTS + 10_000) {
        const cut = this.t.length - MAX_POINTS;
        this.t.splice(0, cut);
        for (const y of this.ys) y.splice(0, cut);
        if (synced) { for (const y of this.logYs) y.splice(0, cut); }
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
      // uPlot is handed the whole arrays (no copy per redraw: slicing 100,000 points three
      // times cost more than drawing them) and the x range of the rolling window; it finds the
      // window's points by binary search and ranges and draws only those. Older points stay for
      // the window menu. One commit: data and x range together, nothing drawn twice.
      const data = [this.t, ...(this.log ? this.positive() : this.ys)];
      this.plot.batch(() => {
        this.plot.setData(data, false);
        this.plot.setScale("x", { min: now - state.windowS, max: now });
      });
      this.lastDraw = now0;
      // uPlot paints in a microtask; measure the whole redraw.
      queueMicrotask(() => (this.drawMs = performance.now() - now0));
    }
    /** The series for a log axis: values <= 0 have no place on it (kept up to date on push). */
    positive() {
      if (!this.logYs || this.logYs[0]?.length !== this.t.length) {
        this.logYs = this.ys.map((y) => y.map((v) => v > 0 ? v : null));
      }
      return this.logYs;
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
      const maxPoints = Math.max(100, Math.round(this.plot.width));
      const series = await Promise.all(
        this.names.map((attr) =>
          api(
            "GET",
            `/api/samples?device=${encodeURIComponent(this.device)}&attr=${
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

  /**
   * Which attributes share a chart: same units and alike ranges (current values within a factor
   * of 10 of each other, or both 0); everything else, and anything whose range is not known
   * yet, gets a chart of its own. Booleans are always alone.
   */
  function chartGroups(attrs, values) {
    const groups = [];
    const alike = (a, b) => {
      const va = values[a.name], vb = values[b.name];
      if (typeof va !== "number" || typeof vb !== "number") return false;
      if (va === 0 || vb === 0) return va === vb;
      const ma = Math.abs(va), mb = Math.abs(vb);
      return Math.max(ma, mb) / Math.min(ma, mb) <= 10;
    };
    for (const a of attrs) {
      const fit = a.type === "boolean" || !a.units
        ? undefined
        : groups.find((g) =>
          g[0].type !== "boolean" && g[0].units === a.units && isPressure(g[0]) === isPressure(a) &&
          g.every((b) => alike(a, b))
        );
      if (fit) fit.push(a);
      else groups.push([a]);
    }
    return groups;
  }

  /** Builds a device's charts from its first good reading (the ranges decide the grouping). */
  function buildCharts(dev, values) {
    const plotted = dev.plotted;
    dev.plotted = null;
    requestAnimationFrame(() => {
      for (const group of chartGroups(plotted, values)) {
        const box = el("div", {
          class: "chart",
          dataset: {
            device: dev.name,
            chart: dev.name,
            attrs: group.map((a) => a.name).join(","),
          },
        });
        dev.chartBox.append(box);
        const chart = new Chart(box, dev.name, group);
        dev.charts.push(chart);
        chart.seed();
      }
    });
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
      { class: "write-control" },
      input,
      " ",
      el("button", { onclick: submit, dataset: { set: `${dev.name}.${attr.name}` } }, "Set"),
    );
  }

  /** One form field per parameter of the technique's schema (from the device's detail). */
  function paramField(dev, p) {
    const id = `${dev.name}-${p.name}`;
    const label = withUnits(p.name, p.units);
    if (p.type === "attrs") {
      return el(
        "fieldset",
        { class: "param attrs", dataset: { param: p.name } },
        el("legend", { title: p.description ?? "" }, "read"),
        ...(p.options ?? []).map((o) =>
          el(
            "label",
            {},
            el("input", { type: "checkbox", value: o, dataset: { attr: o } }),
            ` ${o}`,
          )
        ),
      );
    }
    let input;
    if (p.type === "enum" || p.type === "boolean") {
      const options = p.type === "boolean" ? ["true", "false"] : p.options ?? [];
      input = el(
        "select",
        { id, dataset: { param: p.name } },
        el("option", { value: "" }, "—"),
        ...options.map((o) => el("option", { value: o }, o)),
      );
    } else {
      const numeric = p.type === "number" || p.type === "integer";
      input = el("input", {
        id,
        type: numeric ? "number" : "text",
        step: numeric ? (p.type === "integer" ? "1" : "any") : undefined,
        min: p.min,
        max: p.max,
        placeholder: numeric && (p.min !== undefined || p.max !== undefined)
          ? `${p.min ?? "…"}…${p.max ?? "…"}`
          : p.type,
        dataset: { param: p.name },
      });
    }
    return el("label", { class: "param", for: id, title: p.description ?? "" }, label, input);
  }

  function paramValues(form, params) {
    const out = {};
    for (const p of params) {
      const field = form.querySelector(`[data-param="${CSS.escape(p.name)}"]`);
      if (!field) continue;
      if (p.type === "attrs") {
        const chosen = [...field.querySelectorAll("input:checked")].map((i) => i.value);
        if (chosen.length > 0) out[p.name] = chosen;
        continue;
      }
      const raw = field.value.trim();
      if (raw === "") continue;
      if (p.type === "boolean") out[p.name] = raw === "true";
      else if (p.type === "number" || p.type === "integer") out[p.name] = Number(raw);
      else if (p.type === "number[]") out[p.name] = raw.split(/[,\s]+/).map(Number);
      else out[p.name] = raw;
    }
    return out;
  }

  function taskControls(dev, techniques, schemas) {
    const technique = el(
      "select",
      { "aria-label": "technique", dataset: { technique: dev.name } },
      ...techniques.map((t) => el("option", { value: t }, t)),
    );
    const fields = el("div", { class: "params" });
    const showFields = () => {
      const params = schemas[technique.value] ?? [];
      fields.replaceChildren(
        ...(params.length === 0
          ? [el("span", { class: "note" }, "no parameters")]
          : params.map((p) => paramField(dev, p))),
      );
    };
    technique.addEventListener("change", showFields);
    showFields();
    const duration = el("input", {
      type: "number",
      min: "0",
      step: "any",
      placeholder: "s",
      "aria-label": "max_duration (s)",
      dataset: { param: "max_duration" },
    });
    const interval = el("input", {
      type: "number",
      min: "0.001",
      step: "any",
      placeholder: "s",
      "aria-label": "sampling_interval (s)",
      dataset: { param: "sampling_interval" },
    });
    const status = el("span", { class: "task-status" });
    let current = null;
    let poll = null;
    const stop = el("button", {
      type: "button",
      class: "hidden",
      onclick: async () => {
        if (!current) return;
        try {
          const r = await api("DELETE", `/api/tasks/${encodeURIComponent(current)}`);
          status.textContent = `${r.task.state} (${r.task.samples} readings)`;
        } catch (err) {
          dev.error.textContent = err.message;
        }
      },
    }, "Stop");
    const form = el("form", { class: "tasks", dataset: { tasks: dev.name } });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      dev.error.textContent = "";
      try {
        const body = {
          technique: technique.value,
          params: paramValues(fields, schemas[technique.value] ?? []),
        };
        if (duration.value.trim() !== "") body.max_duration = Number(duration.value);
        if (interval.value.trim() !== "") body.sampling_interval = Number(interval.value);
        const t = await api("POST", `/api/devices/${encodeURIComponent(dev.name)}/tasks`, body);
        current = t.id;
        status.textContent = t.state === "queued"
          ? `${t.id}: queued at ${t.queue_position}, after ${t.waiting_for}`
          : `${t.id}: ${t.state}`;
        stop.classList.remove("hidden");
        clearInterval(poll);
        poll = setInterval(async () => {
          try {
            const s = await api("GET", `/api/tasks/${encodeURIComponent(current)}`);
            status.textContent = s.state === "queued"
              ? `${s.id}: queued at ${s.queue_position}, after ${s.waiting_for}`
              : `${s.id}: ${s.state}`;
            if (!["queued", "running"].includes(s.state)) {
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
    });
    form.append(
      el("div", { class: "task-head" }, el("strong", {}, "task"), technique),
      fields,
      el(
        "div",
        { class: "task-foot" },
        el("label", { class: "param" }, "max duration (s)", duration),
        el("label", { class: "param" }, "interval (s)", interval),
        el("button", { type: "submit", class: "primary" }, "Start"),
        stop,
        status,
      ),
    );
    return form;
  }

  function renderDevice(summary, detail) {
    const dev = {
      name: summary.name,
      attrs: new Map(),
      cells: new Map(),
      tiles: new Map(),
      charts: [],
      badge: el(
        "span",
        { class: `badge ${summary.state}`, dataset: { state: summary.name } },
        summary.state,
      ),
      error: el("div", { class: "error", dataset: { error: summary.name } }),
      info: el("div", { class: "task-status" }),
      time: el("span", { class: "when", dataset: { time: summary.name } }),
    };
    // Big current values: the status attributes, as a scientist reads a front panel.
    const tiles = el("div", { class: "tiles", dataset: { tiles: summary.name } });
    const rows = [];
    for (const attr of detail.attrs) {
      dev.attrs.set(attr.name, attr);
      if (attr.default_reading) {
        const value = el("span", { class: "big" }, "—");
        const numeric = ["number", "integer"].includes(attr.type);
        dev.tiles.set(attr.name, value);
        tiles.append(el(
          "div",
          {
            class: `tile${numeric ? "" : " text"}`,
            title: attr.description ?? "",
            dataset: { big: `${summary.name}.${attr.name}` },
          },
          el("span", { class: "name" }, attr.name),
          el("span", { class: "reading" }, value, el("span", { class: "unit" }, attr.units ?? "")),
        ));
      }
      const cell = el(
        "td",
        { class: "value", dataset: { value: `${summary.name}.${attr.name}` } },
        "—",
      );
      dev.cells.set(attr.name, cell);
      rows.push(el(
        "tr",
        {},
        el("td", { class: "attr", title: attr.description ?? "" }, attr.name),
        cell,
        el("td", { class: "units" }, attr.units ?? ""),
        el("td", { class: "write" }, attr.rw ? writeControl(dev, attr) : ""),
      ));
    }
    const card = el(
      "article",
      { class: "card", dataset: { device: summary.name } },
      el(
        "h2",
        {},
        summary.name,
        dev.badge,
        el("span", { class: "driver" }, summary.address),
        dev.time,
      ),
      tiles,
    );
    const charts = el("div", { class: "charts" });
    card.append(charts);
    card.append(
      el(
        "details",
        { class: "attrs", open: true },
        el("summary", {}, "all attributes"),
        el("table", {}, ...rows),
      ),
      dev.error,
      dev.info,
    );
    if (detail.attrs_error) dev.error.textContent = detail.attrs_error;
    const plotted = detail.attrs.filter((a) =>
      a.default_reading && ["number", "integer", "boolean"].includes(a.type)
    );
    dev.chartBox = charts;
    dev.plotted = plotted.length > 0 ? plotted : null;
    const techniques = ["sample", "hold", ...detail.techniques];
    card.append(taskControls(dev, techniques, detail.technique_params ?? {}));
    if (detail.last) update(dev, detail.last);
    $("#devices").append(card);
    state.devices.set(summary.name, dev);
  }

  function update(dev, reading) {
    const st = reading.error === undefined ? "up" : "down";
    dev.badge.textContent = st;
    dev.badge.className = `badge ${st}`;
    dev.time.textContent = clockZ(reading.t);
    if (reading.error !== undefined) {
      dev.badge.title = reading.error;
      return;
    }
    dev.badge.title = "";
    // A reading is flat, as the CLI prints it: t, device, then one key per attribute.
    for (const [name, v] of Object.entries(reading)) {
      const text = fmt(v, dev.attrs.get(name));
      const cell = dev.cells.get(name);
      if (cell) cell.textContent = text;
      const tile = dev.tiles.get(name);
      if (tile) tile.textContent = text;
    }
    if (dev.plotted) buildCharts(dev, reading);
    for (const chart of dev.charts) chart.push(reading.t, reading);
  }

  // ---- alarms ---------------------------------------------------------------------------------
  async function acknowledge(name, button) {
    button.disabled = true;
    try {
      await api("POST", `/api/alarms/${encodeURIComponent(name)}/ack`);
    } catch (err) {
      button.disabled = false;
      button.title = err.message;
    }
    refreshAlarms();
  }

  async function refreshAlarms() {
    try {
      const { active, history } = await api("GET", "/api/alarms");
      const rows = active.map((a) =>
        el(
          "tr",
          { class: `alarm sev-${a.severity}`, dataset: { alarm: a.name } },
          el("td", { class: "when" }, clockZ(a.since)),
          el("td", {}, el("span", { class: `sev sev-${a.severity}` }, a.severity.toUpperCase())),
          el("td", { class: "where" }, a.attr ? `${a.device}.${a.attr}` : a.device),
          el("td", { class: "message" }, a.message ?? a.name),
          el(
            "td",
            { class: "ack" },
            a.acknowledged
              ? el("span", { class: "note" }, `acknowledged ${clock(a.acknowledged)}`)
              : el("button", {
                type: "button",
                dataset: { ack: a.name },
                onclick: (e) => acknowledge(a.name, e.target),
              }, "Acknowledge"),
          ),
        )
      );
      $("#alarm-count").textContent = active.length === 0
        ? "none active"
        : `${active.length} active`;
      $("#alarm-count").className = active.length === 0 ? "badge up" : "badge down";
      $("#alarm-rows").replaceChildren(...rows);
      $("#alarm-table").classList.toggle("hidden", active.length === 0);
      const recent = (history ?? []).slice(-5).reverse();
      $("#alarm-history").replaceChildren(
        ...recent.map((e) =>
          el(
            "li",
            { class: `sev-${e.state === "active" ? e.severity : "cleared"}` },
            `${clockZ(e.t)} ${
              e.state === "active" ? e.severity.toUpperCase() : "cleared"
            } ${e.message}`,
          )
        ),
      );
    } catch {
      // the next refresh will try again
    }
  }

  // ---- scans ----------------------------------------------------------------------------------
  /**
   * A point's positioner and detector values. Points are flat, as `labwire scan` prints them
   * ({scan, point, t, POS, POS_target, DET…}): POS is the read-back.
   */
  function pointValues(p, positioners, detectors) {
    const pick = (names) => names.map((name) => typeof p[name] === "number" ? p[name] : null);
    return { index: p.point, x: pick(positioners), y: pick(detectors) };
  }

  function unitsOf(ref) {
    const [device, attr] = ref.split(".");
    return state.devices.get(device)?.attrs.get(attr)?.units ?? "";
  }

  function drawScan() {
    const s = state.scan;
    if (!s || s.positioners.length === 0 || s.detectors.length === 0) return;
    const pts = [...s.points.values()].sort((a, b) => a.index - b.index);
    const xs = pts.map((p) => p.x[0]);
    const normalised = s.mode === "normalised";
    const ys = s.detectors.map((_, j) => {
      const raw = pts.map((p) => p.y[j]);
      if (!normalised) return raw;
      const good = raw.filter((v) => v !== null);
      const lo = Math.min(...good), hi = Math.max(...good);
      return raw.map((v) => v === null ? null : hi > lo ? (v - lo) / (hi - lo) : 0.5);
    });
    const key = `${s.id}:${s.mode}`;
    const box = $("#scan-chart");
    if (s.built !== key) {
      s.plot?.destroy();
      const xUnits = unitsOf(s.positioners[0]);
      const xLabel = withUnits(s.positioners[0], xUnits);
      const yLabels = s.detectors.map((d) => withUnits(d, unitsOf(d)));
      box.dataset.xLabel = xLabel;
      box.dataset.yLabels = normalised ? "normalised (0–1)" : yLabels.join("|");
      const scales = { x: { time: false } };
      const axes = [{ label: xLabel, labelSize: 18, values: ticks }];
      if (normalised) {
        scales.norm = { range: [-0.05, 1.05] };
        axes.push({ scale: "norm", label: "normalised (0–1)", labelSize: 18, size: 50 });
      } else {
        // One y axis per detector, in its series' colour: counts (~1000) and volts (~1.2) are
        // each readable on their own axis.
        s.detectors.forEach((_d, j) => {
          scales[`y${j}`] = {};
          axes.push({
            scale: `y${j}`,
            label: yLabels[j],
            labelSize: 18,
            size: axisSize,
            side: j === 0 ? 3 : 1,
            stroke: PALETTE[j % PALETTE.length],
            grid: { show: j === 0 },
            values: ticks,
          });
        });
      }
      $("#scan-axes").replaceChildren(
        ...(normalised ? ["normalised (0–1)"] : yLabels).map((l, j) =>
          el("span", {
            class: "axis-title",
            style: normalised ? "" : `color:${PALETTE[j % PALETTE.length]}`,
            dataset: { axisTitle: l },
          }, l)
        ),
        el("span", { class: "axis-title", dataset: { axisTitle: xLabel } }, `x: ${xLabel}`),
      );
      s.plot = new uPlot(
        {
          width: Math.max(200, box.clientWidth || 320),
          height: 240,
          // The legend names the series in their colours; values show while the cursor is on it.
          legend: { live: false },
          scales,
          axes,
          series: [
            { label: xLabel },
            ...s.detectors.map((d, j) => ({
              label: normalised ? `${d} (normalised)` : yLabels[j],
              scale: normalised ? "norm" : `y${j}`,
              stroke: PALETTE[j % PALETTE.length],
              width: 1.5,
              points: { show: true, size: 5 },
            })),
          ],
        },
        [[], ...s.detectors.map(() => [])],
        box,
      );
      s.built = key;
    }
    s.plot.setData([xs, ...ys]);
  }

  /**
   * Shows scan `id`: its recorded points come from the API (page by page), so a page opened
   * mid-scan, or after it, shows the points taken before; live points arrive over SSE.
   */
  function openScan(id, positioners, detectors) {
    const s = {
      id,
      positioners,
      detectors,
      points: new Map(),
      mode: stored(SCAN_MODE_KEY, "axes"),
      built: null,
    };
    state.scan = s;
    $("#scan").classList.remove("hidden");
    $("#scan-title").textContent = String(id);
    $("#scan-mode").value = s.mode;
    (async () => {
      let since = 0;
      for (let page = 0; page < 100; page++) {
        const view = await api(
          "GET",
          `/api/scans/${encodeURIComponent(id)}?since=${since}&limit=10000`,
        );
        if (state.scan !== s) return;
        if (Array.isArray(view.positioners)) s.positioners = view.positioners;
        if (Array.isArray(view.detectors)) s.detectors = view.detectors;
        const points = view.points ?? [];
        for (const q of points) {
          if (!s.points.has(q.point)) {
            s.points.set(q.point, pointValues(q, s.positioners, s.detectors));
          }
        }
        // Drawn page by page: what is counted is on screen.
        drawScan();
        if (points.length === 0 || view.next_since === since) break;
        since = view.next_since;
      }
    })().catch(() => {
      // the live points still come
    });
    return s;
  }

  /** On load: the running scan, else the last one, with every point it took. */
  async function latestScan() {
    try {
      const { scans } = await api("GET", "/api/scans");
      const latest = scans.findLast((x) => x.state === "running") ?? scans.at(-1);
      if (latest && !state.scan) {
        openScan(latest.id, latest.positioners ?? [], latest.detectors ?? []);
      }
    } catch {
      // a server without scans
    }
  }

  function scanPoint(p) {
    if (!state.scan || state.scan.id !== p.scan) {
      // {scan, point, t, POS, POS_target, DET…}: each positioner has its _target beside it.
      const keys = Object.keys(p).filter((k) => !["scan", "point", "t"].includes(k));
      const positioners = keys.filter((k) => keys.includes(`${k}_target`));
      const detectors = keys.filter((k) =>
        !positioners.includes(k) && !(k.endsWith("_target") && positioners.includes(k.slice(0, -7)))
      );
      openScan(p.scan, positioners, detectors);
    }
    const s = state.scan;
    s.points.set(p.point, pointValues(p, s.positioners, s.detectors));
    drawScan();
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
    requestAnimationFrame(frame);
    for (const dev of state.devices.values()) {
      for (const c of dev.charts) {
        try {
          c.draw();
        } catch (err) {
          // One chart that cannot draw must not stop the others.
          c.message.textContent = `chart failed: ${err.message}`;
          c.message.className = "error";
        }
      }
    }
  }

  async function main() {
    $("#zone").textContent = `times in ${ZONE}`;
    $("#window").addEventListener("change", (e) => {
      state.windowS = Number(e.target.value);
      for (const dev of state.devices.values()) for (const c of dev.charts) c.dirty = true;
    });
    $("#scan-mode").addEventListener("change", (e) => {
      store(SCAN_MODE_KEY, e.target.value);
      if (state.scan) {
        state.scan.mode = e.target.value;
        drawScan();
      }
    });
    const { devices } = await api("GET", "/api/devices");
    const details = await Promise.all(
      devices.map((d) =>
        api("GET", `/api/devices/${encodeURIComponent(d.name)}`).catch((err) => ({
          attrs: [],
          techniques: [],
          technique_params: {},
          attrs_error: err.message,
          last: null,
        }))
      ),
    );
    devices.forEach((d, i) => renderDevice(d, details[i]));
    connect();
    latestScan();
    refreshAlarms();
    setInterval(refreshAlarms, 5000);
    requestAnimationFrame(frame);
    // Charts are built in the next frame (their width is known then).
    requestAnimationFrame(() =>
      requestAnimationFrame(() => globalThis.labwireDashboard.ready = true)
    );
  }

  const chartOf = (name, attr) => {
    const charts = state.devices.get(name)?.charts ?? [];
    return attr ? charts.find((c) => c.names.includes(attr)) : charts[0];
  };

  // For tests and the curious: what each chart shows, and how many points it holds.
  globalThis.labwireDashboard = {
    ready: false,
    zone: ZONE,
    points: (name, attr) => chartOf(name, attr)?.points ?? 0,
    scanPoints: () => state.scan?.points.size ?? 0,
    charts: () =>
      [...state.devices.values()].flatMap((d) =>
        d.charts.map((c) => ({
          device: d.name,
          attrs: c.names,
          log: c.plot.scales.y.distr === 3,
          y_label: c.plot.axes[1].label,
          x_label: c.plot.axes[0].label,
          shown: c.plot.series.slice(1).map((s) => s.show),
        }))
      ),
    scan: () =>
      state.scan && {
        id: state.scan.id,
        mode: state.scan.mode,
        axes: state.scan.plot?.axes.map((a) => a.label) ?? [],
        strokes: state.scan.plot?.series.slice(1).map((s) => s._stroke ?? s.stroke) ?? [],
      },
    // What dragging across a chart does: show recorded history of that time range.
    zoom: (name, from, to) => chartOf(name)?.zoom(from, to),
    // Benchmarks: fill a chart with `n` points over the last `span` seconds, then time redraws.
    bench: async (name, n, span, redraws = 20) => {
      const chart = chartOf(name);
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
      return {
        points: chart.points,
        series: chart.names.length,
        median: times[times.length >> 1],
        max: times.at(-1),
      };
    },
  };
  main().catch((err) => {
    document.body.prepend(
      el("div", { class: "error" }, `dashboard failed to start: ${err.message}`),
    );
  });
})();
