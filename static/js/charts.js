/* Keyhold charts: draws each <canvas data-chart="ID"> from the JSON in
 * <script type="application/json" id="ID">.
 *
 * The JSON comes from templates/spend/chart.html and has this shape:
 *   {"type": "bar" | "line", "stacked": bool, "unit": "USD" | "tokens" | "%",
 *    "labels": [...], "series": [{"label": ..., "values": ["12.34", 5, null, ...]}]}
 * Values are decimal strings (Django's JSON encoder writes Decimal that way), numbers
 * or null; "%" values are percentages (12.5 means 12.5 %), not fractions.
 */
(function () {
  "use strict";

  // Ten colours that stay apart from each other and from white, and that still differ
  // in lightness for readers who do not tell red from green.
  const PALETTE = [
    "#2453d3", "#e07b00", "#067647", "#b42318", "#6941c6",
    "#0e7c86", "#c11574", "#7a5c00", "#475467", "#4e9a06",
  ];

  const usdCents = new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", minimumFractionDigits: 2,
  });
  // A single request can cost a fraction of a cent, which two decimals would show as
  // $0.00; the table in chart.html follows the same rule.
  const usdSmall = new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", minimumFractionDigits: 4,
  });
  const usdWhole = new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", maximumFractionDigits: 0,
  });
  const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  const compact = new Intl.NumberFormat("en-US", {
    notation: "compact", maximumFractionDigits: 1,
  });

  const UNITS = {
    USD: {
      title: "USD",
      tick: (v) => (Number.isInteger(v) ? usdWhole : usdCents).format(v),
      full: (v) => (v !== 0 && Math.abs(v) < 0.005 ? usdSmall : usdCents).format(v),
    },
    tokens: {
      title: "Tokens",
      tick: (v) => compact.format(v),
      full: (v) => grouped.format(v) + " tokens",
    },
    "%": {
      title: "Percent",
      tick: (v) => grouped.format(v) + "%",
      full: (v) => grouped.format(v) + "%",
    },
  };
  const PLAIN = {
    title: "",
    tick: (v) => grouped.format(v),
    full: (v) => grouped.format(v),
  };

  // The JSON text each canvas was last drawn from, to skip canvases already up to date.
  const drawnFrom = new WeakMap();

  function toNumber(value) {
    if (value === null || value === undefined || value === "") return null;
    const n = typeof value === "number" ? value : Number(value);
    return Number.isFinite(n) ? n : null;
  }

  function translucent(hex) {
    return hex + "33";
  }

  function datasets(spec) {
    const isLine = spec.type === "line";
    return (spec.series || []).map((series, i) => {
      const colour = PALETTE[i % PALETTE.length];
      return {
        label: series.label,
        data: (series.values || []).map(toNumber),
        borderColor: colour,
        backgroundColor: isLine ? translucent(colour) : colour,
        borderWidth: isLine ? 2 : 0,
        pointRadius: isLine ? 2 : 0,
        // Stacked lines read as areas: each one filled down to the one beneath it.
        fill: isLine && spec.stacked ? "stack" : false,
        spanGaps: false,
      };
    });
  }

  function stackTotal(items, unit) {
    const total = items.reduce((sum, item) => sum + (item.parsed.y || 0), 0);
    return "Total: " + unit.full(total);
  }

  function options(spec, unit) {
    const stacked = Boolean(spec.stacked);
    const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: reduceMotion ? false : { duration: 300 },
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { stacked: stacked, grid: { display: false } },
        y: {
          stacked: stacked,
          beginAtZero: true,
          title: { display: Boolean(unit.title), text: unit.title },
          ticks: { callback: (value) => unit.tick(Number(value)) },
        },
      },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
        tooltip: {
          callbacks: {
            label: (item) => item.parsed.y === null
              ? item.dataset.label + ": no data"
              : item.dataset.label + ": " + unit.full(item.parsed.y),
            footer: (items) =>
              stacked && items.length > 1 ? stackTotal(items, unit) : "",
          },
        },
      },
    };
  }

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    const text = source.textContent;
    const existing = Chart.getChart(canvas);
    if (existing && drawnFrom.get(canvas) === text) return;
    if (existing) existing.destroy();

    const spec = JSON.parse(text);
    const unit = UNITS[spec.unit] || PLAIN;
    new Chart(canvas, {
      type: spec.type === "line" ? "line" : "bar",
      data: { labels: spec.labels || [], datasets: datasets(spec) },
      options: options(spec, unit),
    });
    drawnFrom.set(canvas, text);
  }

  function forgetDetached() {
    // A canvas removed other than through htmx would keep its chart alive forever.
    Object.values(Chart.instances).forEach((chart) => {
      if (!chart.canvas || !chart.canvas.isConnected) chart.destroy();
    });
  }

  function drawAll() {
    forgetDetached();
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      try {
        draw(canvas);
      } catch (error) {
        // One bad payload must not stop the other charts; the table is still there.
        console.error("Chart %s could not be drawn:", canvas.dataset.chart, error);
      }
    });
  }

  // htmx fires htmx:load once per inserted element; one scan per swap is enough.
  let scanQueued = false;
  function scheduleDrawAll() {
    if (scanQueued) return;
    scanQueued = true;
    queueMicrotask(() => {
      scanQueued = false;
      drawAll();
    });
  }

  function destroyRemoved(event) {
    const el = event.target;
    if (el instanceof HTMLCanvasElement && el.dataset.chart) {
      const chart = Chart.getChart(el);
      if (chart) chart.destroy();
    }
  }

  function setDefaults() {
    const root = getComputedStyle(document.documentElement);
    Chart.defaults.font.family = root.fontFamily;
    Chart.defaults.color = root.getPropertyValue("--ink").trim() || "#1d2330";
    Chart.defaults.borderColor = root.getPropertyValue("--line").trim() || "#d9dee7";
  }

  function start() {
    if (typeof window.Chart === "undefined") {
      console.error("Chart.js is not loaded; the charts are shown as tables only.");
      return;
    }
    setDefaults();
    drawAll();
    document.body.addEventListener("htmx:afterSwap", scheduleDrawAll);
    document.body.addEventListener("htmx:load", scheduleDrawAll);
    document.body.addEventListener("htmx:historyRestore", scheduleDrawAll);
    document.body.addEventListener("htmx:beforeCleanupElement", destroyRemoved);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
