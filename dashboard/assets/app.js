"use strict";
// The dashboard's script: polls api/stages and api/live, draws small SVG
// charts, and sends the try-it form to the API (/v1). No external fetch.
const $ = (id) => document.getElementById(id);
const names = {};
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
const fmt = (n, d = 0) => (typeof n === "number" ? n.toLocaleString("en-US", {maximumFractionDigits: d, minimumFractionDigits: d}) : "–");
const label = (p) => esc(p.name ? `${p.name} (${p.code})` : p.code);
const when = (t) => (t ? new Date(t).toLocaleTimeString() : "");

function line(svg, series, opts) {
  // series: [{values: [..], color}] drawn on a shared y scale from 0.
  const W = 400, H = svg.viewBox.baseVal.height, pad = 24;
  const all = series.flatMap((s) => s.values).filter((v) => isFinite(v));
  const maxY = Math.max(1e-9, ...all), minY = opts && opts.fromMin ? Math.min(...all) : 0;
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const x = (i) => pad + (i * (W - pad - 4)) / (n - 1);
  const y = (v) => H - 14 - ((v - minY) * (H - 24)) / (maxY - minY || 1);
  let out = `<line x1="${pad}" y1="${H - 14}" x2="${W}" y2="${H - 14}" stroke="#ccc"/>`;
  out += `<text x="2" y="12" font-size="10" fill="#666">${fmt(maxY, maxY < 10 ? 3 : 0)}</text>`;
  out += `<text x="2" y="${H - 16}" font-size="10" fill="#666">${fmt(minY, minY < 10 && minY ? 3 : 0)}</text>`;
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    out += `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts}"/>`;
    out += `<text x="${W - 90}" y="${12 + 12 * k}" font-size="10" fill="${s.color}">${esc(s.name)}</text>`;
  });
  svg.innerHTML = out;
  svg.dataset.points = String(all.length);
}

async function getJSON(url) {
  const r = await fetch(url, {cache: "no-store"});
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function refreshStages() {
  let d;
  try { d = await getJSON("api/stages"); } catch (e) { $("batch-error").textContent = String(e); return; }
  const rows = (d.stages || []).map((s) => `<tr data-stage="${esc(s.name)}"><td>${esc(s.name)}</td><td class="state-${esc(s.state)}">${esc(s.state)}</td>` +
    `<td>${when(s.finished || s.started)}</td><td>${esc(s.detail)}${s.error ? `<div class="error">${esc(s.error)}</div>` : ""}</td></tr>`);
  $("stage-rows").innerHTML = rows.join("") || `<tr><td colspan="4">no stages</td></tr>`;
  const errs = [];
  const t = d.training || {};
  if (t.data) {
    $("training-rows").textContent = fmt(t.data.rows);
    $("training-partitions").textContent = fmt((t.data.partitions || []).length);
    $("training-run").textContent = `${t.data.run_id || ""} at ${when(t.data.finished_at)}`;
  } else if (t.error) errs.push("training data: " + t.error);
  $("model-version").textContent = d.model_version || "–";
  const e = d.engine || {};
  if (e.data) {
    $("vectors-loaded").textContent = `${fmt(e.data.store_items)} items (version ${e.data.store_version || "?"})`;
    $("vectors-store").textContent = e.data.store || "–";
    if (e.data.error) errs.push("vector store: " + e.data.error);
  } else if (e.error) errs.push("engine: " + e.error);
  $("batch-error").textContent = errs.join("\n");
  const m = d.model || {};
  if (m.data) {
    const ep = m.data.epochs || [];
    line($("loss-chart"), [
      {name: "train loss", color: "#06c", values: ep.map((x) => x.train_loss)},
      {name: "validation loss", color: "#d60", values: ep.map((x) => x.validation_loss)},
    ], {fromMin: true});
    const h = m.data.holdout || {}, r = h.rmse || {}, k = h.ranking || {};
    const pm = k.model || {}, pp = k.popularity || {};
    $("holdout-rows").innerHTML =
      `<tr><th>RMSE (${fmt(h.ratings)} ratings)</th><th>model</th><th>global mean</th><th>item mean</th><th>user mean</th></tr>` +
      `<tr><td></td><td>${fmt(r.model, 4)}</td><td>${fmt(r.global_mean, 4)}</td><td>${fmt(r.item_mean, 4)}</td><td>${fmt(r.user_mean, 4)}</td></tr>` +
      `<tr><th>ranking @${fmt(k.k)} (${fmt(k.users)} users)</th><th>model</th><th>popularity</th></tr>` +
      `<tr><td>precision</td><td>${fmt(pm.precision_at_k, 4)}</td><td>${fmt(pp.precision_at_k, 4)}</td></tr>` +
      `<tr><td>NDCG</td><td>${fmt(pm.ndcg_at_k, 4)}</td><td>${fmt(pp.ndcg_at_k, 4)}</td></tr>`;
    $("model-error").textContent = "";
  } else if (m.error) $("model-error").textContent = "model: " + m.error;
}

async function refreshLive() {
  let d;
  try { d = await getJSON("api/live"); } catch (e) { $("feed-error").textContent = String(e); return; }
  const s = d.series || [];
  $("stream-total").textContent = fmt(d.total);
  const last = s.length > 1 ? s[s.length - 2] : null; // the last whole second
  $("stream-rate").textContent = last ? fmt(last.events) : "–";
  line($("throughput-chart"), [{name: "events/s", color: "#06c", values: s.map((p) => p.events)}]);
  line($("latency-chart"), [
    {name: "p50", color: "#080", values: s.map((p) => p.p50_ms)},
    {name: "p99", color: "#b00", values: s.map((p) => p.p99_ms)},
  ]);
  const r = d.recent || {};
  $("feed-object").textContent = r.object ? "from " + r.object : "";
  $("feed-error").textContent = r.error || "";
  const rows = (r.records || []).map((x) => `<tr class="rec"><td>#${esc(x.customer_number)}<br>${esc(x.city)}, ${esc(x.country)}</td>` +
    `<td>${(x.recommended || []).slice(0, 5).map(label).join("<br>")}</td>` +
    `<td>${x.similar_to ? `<i>${label(x.similar_to)}</i><br>` + (x.similar || []).slice(0, 3).map(label).join("<br>") : ""}</td></tr>`);
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
