"use strict";
// The dashboard's script: polls api/stages and api/live, draws SVG charts
// with axes, and sends the try-it form to the API (/v1). No external fetch.
const $ = (id) => document.getElementById(id);
const names = {};
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
// brk escapes s and lets it break after slashes (paths, URLs), never inside a word.
const brk = (s) => esc(s).replace(/\//g, "/<wbr>");
const fmt = (n, d = 0) => (typeof n === "number" && isFinite(n) ? n.toLocaleString("en-US", {maximumFractionDigits: d, minimumFractionDigits: d}) : "–");
const label = (p) => esc(p.name ? `${p.name} (${p.code})` : p.code);
const when = (t) => (t ? new Date(t).toLocaleTimeString() : "");
const redraw = []; // charts to draw again when the page is resized

// niceTicks returns round tick values covering [lo, hi], about n of them.
function niceTicks(lo, hi, n, integer) {
  if (!(hi > lo)) hi = lo + (integer ? 1 : Math.abs(lo) || 1);
  const raw = (hi - lo) / Math.max(1, n);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  if (integer) step = Math.max(1, Math.round(step));
  // At least two ticks inside [lo, hi], or an axis reads as one number.
  const inside = (s) => Math.floor(hi / s + 1e-9) - Math.ceil(lo / s - 1e-9) + 1;
  while (inside(step) < 2 && (!integer || step > 1)) step = integer ? Math.max(1, Math.floor(step / 2)) : step / 2;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return {ticks: out, step};
}

const tickText = (v, step) => {
  const d = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step)));
  return v.toLocaleString("en-US", {maximumFractionDigits: d, minimumFractionDigits: d});
};

// chart draws series ([{name, color, values}]) against xs on svg, with
// axes, ticks, gridlines, axis titles and a legend, at the svg's own pixel
// width (so text keeps its size on a phone). o: {xTitle, yTitle, xInteger,
// yFromMin, xFmt, marker: {x, text}}.
function chart(svg, xs, series, o) {
  const draw = () => {
    const W = Math.max(200, Math.round(svg.getBoundingClientRect().width || 400));
    const H = Number(svg.dataset.height || 160);
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.style.height = H + "px";
    const m = {l: 58, r: 12, t: 22, b: 36};
    const pw = W - m.l - m.r, ph = H - m.t - m.b;
    const all = series.flatMap((s) => s.values).filter((v) => typeof v === "number" && isFinite(v));
    let yLo = o.yFromMin && all.length ? Math.min(...all) : 0, yHi = all.length ? Math.max(...all) : 1;
    if (o.yFromMin) { const pad = (yHi - yLo) * 0.05 || Math.abs(yHi) * 0.05 || 0.1; yLo -= pad; yHi += pad; }
    if (!(yHi > yLo)) yHi = yLo + 1;
    const yt = niceTicks(yLo, yHi, Math.max(2, Math.floor(ph / 28)));
    yLo = Math.min(yLo, yt.ticks[0]); yHi = Math.max(yHi, yt.ticks[yt.ticks.length - 1]);
    let xLo = xs.length ? xs[0] : 0, xHi = xs.length ? xs[xs.length - 1] : 1;
    if (!(xHi > xLo)) xHi = xLo + 1;
    const xt = niceTicks(xLo, xHi, Math.max(2, Math.floor(pw / 70)), o.xInteger);
    const X = (v) => m.l + ((v - xLo) * pw) / (xHi - xLo);
    const Y = (v) => m.t + ph - ((v - yLo) * ph) / (yHi - yLo);
    let out = "";
    for (const v of yt.ticks) {
      if (v < yLo - 1e-12 || v > yHi + 1e-12) continue;
      out += `<line class="grid" x1="${m.l}" x2="${W - m.r}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}"/>`;
      out += `<text x="${m.l - 5}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${tickText(v, yt.step)}</text>`;
    }
    for (const v of xt.ticks) {
      if (v < xLo - 1e-9 || v > xHi + 1e-9) continue;
      out += `<line class="axis" x1="${X(v).toFixed(1)}" x2="${X(v).toFixed(1)}" y1="${m.t + ph}" y2="${m.t + ph + 4}"/>`;
      out += `<text x="${X(v).toFixed(1)}" y="${m.t + ph + 15}" text-anchor="middle">${esc(o.xFmt ? o.xFmt(v) : tickText(v, xt.step))}</text>`;
    }
    out += `<line class="axis" x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}"/>`;
    out += `<line class="axis" x1="${m.l}" x2="${W - m.r}" y1="${m.t + ph}" y2="${m.t + ph}"/>`;
    out += `<text class="title" x="${m.l + pw / 2}" y="${H - 4}" text-anchor="middle">${esc(o.xTitle)}</text>`;
    out += `<text class="title" transform="translate(12 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yTitle)}</text>`;
    if (o.marker && o.marker.x >= xLo && o.marker.x <= xHi) {
      const x = X(o.marker.x).toFixed(1);
      out += `<line x1="${x}" x2="${x}" y1="${m.t}" y2="${m.t + ph}" stroke="#999" stroke-dasharray="3 3"/>`;
      out += `<text x="${(X(o.marker.x) + 4).toFixed(1)}" y="${m.t + 11}">${esc(o.marker.text)}</text>`;
    }
    let lx = m.l;
    series.forEach((s) => {
      const pts = s.values.map((v, i) => (typeof v === "number" && isFinite(v) ? `${X(xs[i]).toFixed(1)},${Y(v).toFixed(1)}` : null)).filter(Boolean).join(" ");
      if (pts) out += `<polyline fill="none" stroke="${s.color}" stroke-width="1.6" stroke-linejoin="round" points="${pts}"/>`;
    });
    series.forEach((s) => {
      out += `<rect x="${lx}" y="5" width="10" height="10" fill="${s.color}"/><text x="${lx + 14}" y="14">${esc(s.name)}</text>`;
      lx += 26 + 7.5 * s.name.length;
    });
    svg.innerHTML = out;
    svg.dataset.points = String(all.length);
  };
  svg._draw = draw;
  if (!redraw.includes(svg)) redraw.push(svg);
  draw();
}
let resizeTimer;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => redraw.forEach((s) => s._draw && s._draw()), 100); });

async function getJSON(url) {
  const r = await fetch(url, {cache: "no-store"});
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

// td is a table cell: its label (shown when the table is a list on a narrow
// screen), its HTML content and its class.
const td = (lbl, html, cls = "") => `<td data-label="${esc(lbl)}"${cls ? ` class="${cls}"` : ""}><span class="v">${html}</span></td>`;
const f4 = (v) => fmt(v, 4);
const secs = (v) => (typeof v === "number" && v > 0 && v < 0.01 ? "< 0.01" : fmt(v, 2));

// metricsTable renders evaluation results (C2's Report: one row per method).
// The RMSE column is left out when no method has one (implicit feedback:
// no rating to predict).
function metricsTable(id, caption, k, rows) {
  const cols = [["P@" + k, "precision_at_k"], ["R@" + k, "recall_at_k"], ["NDCG@" + k, "ndcg_at_k"], ["MAP@" + k, "map_at_k"],
    ["HR@" + k, "hit_rate_at_k"], ["coverage", "coverage"]];
  if (rows.some((r) => typeof r.rmse === "number")) cols.push(["RMSE", "rmse"]);
  const best = {};
  for (const [, key] of cols) {
    const vals = rows.map((r) => r[key]).filter((v) => typeof v === "number");
    if (vals.length > 1) best[key] = key === "rmse" ? Math.min(...vals) : Math.max(...vals);
  }
  const head = `<tr><th>method</th>${cols.map(([h]) => `<th class="num">${esc(h)}</th>`).join("")}<th class="num">users</th><th class="num">fit s</th></tr>`;
  const body = rows.map((r) => `<tr data-method="${esc(r.method)}">` + td("method", esc(r.method) + (r.input ? ` <span class="muted small">(${esc(r.input)})</span>` : ""), "head") +
    cols.map(([h, key]) => td(h, f4(r[key]), "num" + (best[key] !== undefined && r[key] === best[key] ? " best" : ""))).join("") +
    td("users", fmt(r.users), "num") + td("fit s", secs(r.fit_seconds), "num") + "</tr>").join("");
  return `<table class="stack metrics" id="${id}"><caption>${esc(caption)}</caption><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function renderQuality(md) {
  const ev = md.evaluation;
  if (ev && (ev.methods || []).length) {
    $("quality-title").textContent = `Evaluation @${ev.k} (${ev.split || "hold-out"})`;
    let html = `<p class="muted">${fmt(ev.users)} users, ${fmt(ev.items)} items; best value per column in bold.</p>`;
    html += metricsTable("evaluation", "warm users: held-out interactions of users seen in training", ev.k, ev.methods);
    if ((ev.cold_start || []).length) html += metricsTable("evaluation-cold", "cold start: users held out entirely", ev.k, ev.cold_start);
    if ((ev.notes || []).length) html += `<ul class="small notes" id="evaluation-notes">${ev.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`;
    if (ev.protocol) html += `<details class="small"><summary>protocol</summary><p>${brk(ev.protocol)}</p></details>`;
    $("quality").innerHTML = html;
    return;
  }
  const h = md.holdout || {}, r = h.rmse || {}, k = h.ranking || {};
  const pm = k.model || {}, pp = k.popularity || {};
  $("quality-title").textContent = "Hold-out metrics";
  // Implicit feedback (purchases, clicks) has no rating to predict: no RMSE.
  const rmse = h.implicit_feedback || typeof r.model !== "number" ?
    `<p id="holdout-rmse-none" class="muted">No RMSE: ${h.implicit_feedback ? "implicit feedback, no rating to predict" : "none recorded"} (${fmt(h.ratings)} hold-out interactions).</p>` :
    `<table id="holdout-rmse"><caption>RMSE on the 1–5 scale, ${fmt(h.ratings)} hold-out ratings</caption>` +
    `<thead><tr><th>predictor</th><th class="num">RMSE</th></tr></thead><tbody>` +
    [["model", r.model], ["global mean", r.global_mean], ["item mean", r.item_mean], ["user mean", r.user_mean]]
      .map(([n, v]) => `<tr><td>${n}</td><td class="num">${f4(v)}</td></tr>`).join("") + `</tbody></table>`;
  $("quality").innerHTML = `<div class="side">` + rmse +
    `<table id="holdout-ranking"><caption>ranking @${fmt(k.k)}, ${fmt(k.users)} users</caption>` +
    `<thead><tr><th>metric</th><th class="num">model</th><th class="num">popularity</th></tr></thead><tbody>` +
    `<tr><td>precision@${fmt(k.k)}</td><td class="num">${f4(pm.precision_at_k)}</td><td class="num">${f4(pp.precision_at_k)}</td></tr>` +
    `<tr><td>NDCG@${fmt(k.k)}</td><td class="num">${f4(pm.ndcg_at_k)}</td><td class="num">${f4(pp.ndcg_at_k)}</td></tr></tbody></table></div>`;
}

function renderAPI(a) {
  if (!a) { $("api-body").innerHTML = `<p class="muted">This process serves no API figures.</p>`; return; }
  if (a.error) { $("api-error").textContent = "API figures: " + a.error; return; }
  $("api-error").textContent = "";
  const d = a.data || {};
  const ms = (v) => (v < 0 ? "> 10 s" : v >= 1 ? fmt(v, 0) : fmt(v, 2));
  $("api-body").innerHTML = `<dl>` +
    `<dt>engine</dt><dd id="api-engine">${d.engine_loaded ? "loaded" : "not loaded"}</dd>` +
    `<dt>requests</dt><dd id="api-requests">${fmt(d.requests)}</dd>` +
    `<dt>errors</dt><dd>${fmt(d.client_errors)} client (4xx), ${fmt(d.server_errors)} server (5xx)</dd>` +
    `<dt>fallbacks</dt><dd>${fmt(d.fallbacks)} answers from popular products</dd>` +
    `<dt>in flight</dt><dd>${fmt(d.in_flight)}</dd></dl>` +
    ((d.routes || []).length ? `<table class="stack-sm" id="api-routes"><caption>by endpoint</caption><thead><tr><th>endpoint</th><th class="num wrap">requests</th><th class="num wrap">errors</th><th class="num wrap">mean ms</th><th class="num wrap">p99 ≤ ms</th></tr></thead><tbody>` +
      d.routes.map((r) => `<tr>${td("endpoint", brk(r.route), "head")}${td("requests", fmt(r.requests), "num")}${td("errors", fmt(r.client_errors + r.server_errors), "num")}` +
        `${td("mean ms", ms(r.mean_ms), "num")}${td("p99 ≤ ms", ms(r.p99_le_ms), "num")}</tr>`).join("") + `</tbody></table>` : `<p class="muted">no requests yet</p>`);
}

async function refreshStages() {
  let d;
  try { d = await getJSON("api/stages"); } catch (e) { $("batch-error").textContent = String(e); return; }
  if (d.stages) {
    const rows = d.stages.map((s) => `<tr data-stage="${esc(s.name)}"><td><div class="stage-name">${esc(s.name)}</div>` +
      `${s.detail ? `<div class="stage-detail">${brk(s.detail)}</div>` : ""}${s.error ? `<div class="error">${brk(s.error)}</div>` : ""}</td>` +
      `<td class="state-${esc(s.state)}">${esc(s.state)}</td><td class="num">${when(s.finished || s.started)}</td></tr>`);
    $("stage-rows").innerHTML = rows.join("") || `<tr><td colspan="3">no stages yet</td></tr>`;
  } else {
    $("stage-table").tHead.hidden = true;
    $("stage-rows").innerHTML = `<tr><td colspan="3" class="muted" id="no-stages">This process runs no pipeline stages (recoflow demo shows them).</td></tr>`;
  }
  const errs = [];
  const t = d.training || {};
  if (t.data) {
    $("training-rows").textContent = fmt(t.data.rows);
    $("training-partitions").textContent = fmt((t.data.partitions || []).length);
    $("training-run").innerHTML = `${brk(t.data.run_id || "")} at ${esc(when(t.data.finished_at))}`;
  } else if (t.error) errs.push("training data: " + t.error);
  $("model-version").textContent = d.model_version || "–";
  const e = d.engine || {};
  if (e.data) {
    $("vectors-loaded").textContent = `${fmt(e.data.store_items)} items (version ${e.data.store_version || "?"})`;
    $("vectors-store").innerHTML = brk(e.data.store || "–");
    if (e.data.error) errs.push("vector store: " + e.data.error);
  } else if (e.error) errs.push("engine: " + e.error);
  $("batch-error").innerHTML = errs.map(brk).join("\n");
  const m = d.model || {};
  if (m.data) {
    const ep = m.data.epochs || [];
    const num = (v) => typeof v === "number" && isFinite(v);
    const best = m.data.best_epoch ? {x: m.data.best_epoch, text: "best"} : null;
    // The loss of every model; the validation loss of a rating model
    // (metrics format 1), or the validation ranking that chose the epochs
    // of a ranking model (format 2) in a chart of its own: another scale.
    const losses = [{name: "train loss", color: "#06c", values: ep.map((x) => x.train_loss)}];
    if (ep.some((x) => num(x.validation_loss))) {
      losses.push({name: "validation loss", color: "#d60", values: ep.map((x) => x.validation_loss)});
    }
    chart($("loss-chart"), ep.map((x) => x.epoch), losses,
      {xTitle: "epoch", yTitle: "loss", xInteger: true, yFromMin: true, marker: best});
    const ranked = ep.some((x) => num(x.validation_ndcg_at_10));
    $("validation-box").hidden = !ranked;
    if (ranked) {
      chart($("validation-chart"), ep.map((x) => x.epoch), [
        {name: "NDCG@10", color: "#d60", values: ep.map((x) => x.validation_ndcg_at_10)},
        {name: "P@10", color: "#080", values: ep.map((x) => x.validation_precision_at_10)},
      ], {xTitle: "epoch", yTitle: "validation", xInteger: true, marker: best});
    }
    renderQuality(m.data);
    $("model-error").textContent = "";
  } else if (m.error) $("model-error").innerHTML = "model: " + brk(m.error);
  renderAPI(d.api);
}

async function refreshLive() {
  let d;
  try { d = await getJSON("api/live"); } catch (e) { $("feed-error").textContent = String(e); return; }
  if (d.series) {
    const s = d.series;
    $("stream-total").textContent = fmt(d.total);
    const last = s.length ? s[s.length - 1] : null; // the server sends whole seconds only
    $("stream-rate").textContent = last ? fmt(last.events) : "–";
    const end = last ? last.t : 0, xs = s.map((p) => p.t - end);
    const ago = (v) => (v === 0 ? "0" : `${v}`);
    chart($("throughput-chart"), xs, [{name: "events/s", color: "#06c", values: s.map((p) => p.events)}],
      {xTitle: "seconds before the last whole second", yTitle: "events/s", xInteger: true, xFmt: ago});
    chart($("latency-chart"), xs, [
      {name: "p50", color: "#080", values: s.map((p) => (p.events ? p.p50_ms : NaN))},
      {name: "p99", color: "#b00", values: s.map((p) => (p.events ? p.p99_ms : NaN))},
    ], {xTitle: "seconds before the last whole second", yTitle: "ms", xInteger: true, xFmt: ago});
  } else {
    $("stream-summary").innerHTML = `<span class="muted" id="no-stream">No stream runs in this process (recoflow stream and recoflow demo run one).</span>`;
    for (const id of ["throughput-chart", "latency-chart"]) $(id).parentElement.hidden = true;
  }
  const r = d.recent;
  if (!r) {
    $("feed-object").textContent = "No local lake to read recommendations from.";
    return;
  }
  $("feed-object").innerHTML = r.object ? "from " + brk(r.object) : "";
  $("feed-error").textContent = r.error || "";
  const rows = (r.records || []).map((x) => `<tr class="rec">${td("shopper", `#${esc(x.customer_number)}<br>${esc(x.city)}, ${esc(x.country)}`, "head")}` +
    td("recommended", (x.recommended || []).slice(0, 5).map(label).join("<br>")) +
    td("similar to", x.similar_to ? `<i>${label(x.similar_to)}</i><br>` + (x.similar || []).slice(0, 3).map(label).join("<br>") : "") + `</tr>`);
  if (rows.length) $("feed-rows").innerHTML = rows.join("");
}

async function loadCatalog() {
  try {
    const d = await getJSON("api/catalog");
    (d.products || []).forEach((p) => { names[p.code] = p.name; });
    $("products").innerHTML = (d.products || []).map((p) => `<option value="${esc(p.code)}">${esc(p.name)}</option>`).join("");
    const sel = $("try-shopper");
    (d.shoppers || []).forEach((c, i) => {
      const o = document.createElement("option");
      o.value = String(i); o.textContent = `#${c.number} ${c.name} (${c.city}, ${c.country})`;
      sel.appendChild(o);
    });
    sel.addEventListener("change", () => {
      const c = d.shoppers[Number(sel.value)];
      if (!c) return;
      $("try-city").value = c.city; $("try-country").value = c.country; $("try-credit").value = c.creditlimit;
    });
  } catch (e) { $("try-error").textContent = String(e); }
}

const item = (it) => `<li data-id="${esc(it.id)}">${esc(names[it.id] ? `${names[it.id]} (${it.id})` : it.id)}</li>`;

async function tryIt(ev) {
  ev.preventDefault();
  $("try-error").textContent = "";
  $("try-recommended").innerHTML = ""; $("try-similar").innerHTML = "";
  const user = {city: $("try-city").value, country: $("try-country").value, creditlimit: Number($("try-credit").value)};
  try {
    const r = await fetch("/v1/recommendations", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({user, limit: 5})});
    const b = await r.json();
    if (!r.ok) throw new Error((b.error && b.error.message) || `HTTP ${r.status}`);
    $("try-recommended").innerHTML = b.items.map(item).join("") + (b.fallback ? `<li class="muted">fallback: ${esc(b.reason)}</li>` : "");
    const p = $("try-product").value.trim();
    if (p) {
      const s = await fetch(`/v1/items/${encodeURIComponent(p)}/similar?limit=5`);
      const sb = await s.json();
      if (!s.ok) throw new Error((sb.error && sb.error.message) || `HTTP ${s.status}`);
      $("try-similar").innerHTML = sb.items.map(item).join("");
    }
  } catch (e) { $("try-error").textContent = String(e.message || e); }
}

async function tick() {
  await Promise.all([refreshStages(), refreshLive()]);
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
}
$("try-form").addEventListener("submit", tryIt);
loadCatalog();
tick();
setInterval(tick, 2000);
