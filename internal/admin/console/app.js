// Chronik console: a single page over the REST API (/api/v1), no build step.
"use strict";

const app = document.getElementById("app");
let timers = [];        // polling of the current page, cleared on navigation
let generation = 0;     // bumps on navigation so late answers are dropped

// ---- helpers -------------------------------------------------------------

async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", headers: {} };
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch("/api/v1" + path, init);
  } catch (e) {
    throw new Error("cannot reach the broker's admin API (" + e.message + ")");
  }
  if (res.status === 204) return null;
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const msg = body && body.error ? body.error : res.status + " " + res.statusText;
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return body;
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function fmtNum(n) { return n == null ? "–" : Number(n).toLocaleString("en-US"); }

function fmtBytes(n) {
  if (n == null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function fmtTime(ms) { return new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC"); }

function el(html) {
  const t = document.createElement("template");
  t.innerHTML = html.trim();
  return t.content.firstElementChild;
}

function showError(where, err) {
  where.innerHTML = `<div class="error" role="alert">${esc(err.message || err)}</div>`;
}

function every(ms, fn) {
  fn();
  timers.push(setInterval(fn, ms));
}

// Bytes as the API gives them ({data, encoding} or null) -> a JS string.
function bytesText(b) {
  if (b == null) return null;
  return b.encoding === "base64" ? atob(b.data) : b.data;
}

function render(b, format) {
  if (b == null) return '<span class="muted">null</span>';
  if (format === "hex" || b.encoding === "base64") {
    const raw = b.encoding === "base64" ? atob(b.data) : unescape(encodeURIComponent(b.data));
    let out = "";
    for (let i = 0; i < raw.length; i++) out += raw.charCodeAt(i).toString(16).padStart(2, "0") + (i % 16 === 15 ? "\n" : " ");
    return esc(out.trim());
  }
  if (format === "json") {
    try { return esc(JSON.stringify(JSON.parse(b.data), null, 2)); } catch (e) { /* not JSON: text */ }
  }
  return esc(b.data);
}

function headersHTML(hs) {
  if (!hs || !hs.length) return "";
  return `<div class="headers">${hs.map(h => `<span>${esc(h.key)}=${esc(bytesText(h.value) ?? "null")}</span>`).join("")}</div>`;
}

function recordHTML(r, format, extra = "") {
  return `<div class="record" data-offset="${r.offset}" data-partition="${r.partition}">
    <div class="meta">${extra}<span>partition <b>${r.partition}</b></span><span>offset <b>${r.offset}</b></span>
      <span>${esc(fmtTime(new Date(r.timestamp).getTime()))}</span>
      <span>key <b>${r.key == null ? "null" : esc(bytesText(r.key))}</b></span></div>
    <pre class="value">${render(r.value, format)}</pre>${headersHTML(r.headers)}</div>`;
}

// A line chart of (t, v) points as inline SVG.
function chartSVG(points, color) {
  const w = 600, h = 160, pad = 4;
  if (points.length < 2) return `<svg viewBox="0 0 ${w} ${h}"><text x="10" y="80" fill="#6b7385">collecting…</text></svg>`;
  const t0 = points[0][0], t1 = points[points.length - 1][0];
  const vmax = Math.max(1, ...points.map(p => p[1]));
  const x = t => pad + (w - 2 * pad) * (t - t0) / Math.max(1, t1 - t0);
  const y = v => h - pad - (h - 2 * pad) * v / vmax;
  const line = points.map(p => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" ");
  return `<svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none">
    <line x1="0" y1="${h - pad}" x2="${w}" y2="${h - pad}" stroke="#e1e4ea"/>
    <polyline points="${pad},${h - pad} ${line} ${x(t1).toFixed(1)},${h - pad}" fill="${color}22" stroke="none"/>
    <polyline points="${line}" fill="none" stroke="${color}" stroke-width="2"/>
    <text x="${w - 6}" y="14" text-anchor="end" font-size="12" fill="#6b7385">max ${fmtNum(Math.round(vmax))}</text></svg>`;
}

// ---- readiness and header ------------------------------------------------

async function checkReady() {
  const banner = document.getElementById("notready");
  try {
    const res = await fetch("/ready");
    const body = await res.json().catch(() => ({}));
    if (res.ok) { banner.hidden = true; return; }
    banner.textContent = "Broker not ready: " + (body.reason || res.statusText);
  } catch (e) {
    banner.textContent = "Cannot reach the broker: " + e.message;
  }
  banner.hidden = false;
}

// ---- pages ---------------------------------------------------------------

const series = { rate: [], lag: [], last: null };

async function overviewPage(gen) {
  app.innerHTML = `<h1>Overview</h1><div id="ov-err"></div><div class="cards" id="cards"></div>
    <div class="charts">
      <div class="chart"><div>Records produced per second <span class="now" id="rate-now"></span></div><div id="rate-chart"></div></div>
      <div class="chart"><div>Consumer group lag (records) <span class="now" id="lag-now"></span></div><div id="lag-chart"></div></div>
    </div>
    <h2>Topics</h2><div id="ov-topics"></div>`;
  every(2000, async () => {
    let c;
    try { c = await api("/cluster"); } catch (e) { if (gen === generation) showError(document.getElementById("ov-err"), e); return; }
    if (gen !== generation) return;
    document.getElementById("ov-err").innerHTML = "";
    const last = series.last;
    if (last && c.timestamp_ms > last.timestamp_ms) {
      const rate = Math.max(0, (c.end_offsets_total - last.end_offsets_total) * 1000 / (c.timestamp_ms - last.timestamp_ms));
      series.rate.push([c.timestamp_ms, rate]);
    }
    series.lag.push([c.timestamp_ms, c.total_lag]);
    series.last = c;
    for (const k of ["rate", "lag"]) if (series[k].length > 90) series[k].shift();
    const cards = [["Topics", fmtNum(c.topics)], ["Partitions", fmtNum(c.partitions)], ["Records", fmtNum(c.records)],
      ["Size on disk", fmtBytes(c.size_bytes)], ["Consumer groups", fmtNum(c.groups)], ["Total lag", fmtNum(c.total_lag)]];
    document.getElementById("cards").innerHTML = cards.map(([l, v]) =>
      `<div class="card"><div class="label">${l}</div><div class="value">${v}</div></div>`).join("");
    const r = series.rate.length ? series.rate[series.rate.length - 1][1] : 0;
    document.getElementById("rate-now").textContent = "· now " + fmtNum(Math.round(r)) + "/s";
    document.getElementById("lag-now").textContent = "· now " + fmtNum(c.total_lag);
    document.getElementById("rate-chart").innerHTML = chartSVG(series.rate, "#2f6fdf");
    document.getElementById("lag-chart").innerHTML = chartSVG(series.lag, "#b7791f");
    document.getElementById("cluster").textContent = "cluster " + c.cluster_id + " · " +
      c.brokers.map(b => "broker " + b.node_id + " " + b.host + ":" + b.port).join(", ");
  });
  every(5000, async () => {
    const box = document.getElementById("ov-topics");
    try {
      const t = await api("/topics");
      if (gen === generation) box.innerHTML = topicsTable(t.topics);
    } catch (e) { if (gen === generation) showError(box, e); }
  });
}

function topicsTable(topics) {
  if (!topics.length) return `<p class="muted">No topics yet.</p>`;
  return `<table id="topics-table"><thead><tr><th>Name</th><th class="num">Partitions</th><th class="num">Records</th>
    <th class="num">Size</th><th>Search</th></tr></thead><tbody>${topics.map(t => `<tr data-topic="${esc(t.name)}">
    <td><a href="#/topics/${encodeURIComponent(t.name)}">${esc(t.name)}</a></td><td class="num">${t.partitions}</td>
    <td class="num">${fmtNum(t.records)}</td><td class="num">${fmtBytes(t.size_bytes)}</td>
    <td>${t.search_enabled ? '<span class="pill">on</span>' : '<span class="muted">off</span>'}</td></tr>`).join("")}</tbody></table>`;
}

async function topicsPage(gen) {
  app.innerHTML = `<h1>Topics</h1>
    <form id="create-topic" class="toolbar">
      <label>Name<input name="name" required placeholder="orders"></label>
      <label>Partitions<input name="partitions" type="number" min="1" value="1" style="width:90px"></label>
      <label>Search<select name="search"><option value="false">off</option><option value="true">on</option></select></label>
      <button type="submit">Create topic</button></form>
    <div id="topics-msg"></div><div id="topics"></div>`;
  const box = document.getElementById("topics");
  const load = async () => {
    try {
      const t = await api("/topics");
      if (gen === generation) box.innerHTML = topicsTable(t.topics);
    } catch (e) { if (gen === generation) showError(box, e); }
  };
  document.getElementById("create-topic").addEventListener("submit", async ev => {
    ev.preventDefault();
    const f = ev.target, msg = document.getElementById("topics-msg");
    const body = { name: f.name.value.trim(), partitions: Number(f.partitions.value) };
    if (f.search.value === "true") body.configs = { "chronik.search.enabled": "true" };
    try {
      await api("/topics", { method: "POST", body });
      msg.innerHTML = `<div class="notice">Created topic ${esc(body.name)}.</div>`;
      f.name.value = "";
      load();
    } catch (e) { showError(msg, e); }
  });
  every(5000, load);
}

async function topicPage(gen, name, params) {
  const tab = params.get("tab") || "messages";
  const q = "/topics/" + encodeURIComponent(name);
  app.innerHTML = `<h1>Topic ${esc(name)}</h1><div id="topic-err"></div>
    <div class="toolbar">
      <a href="#/topics/${encodeURIComponent(name)}?tab=messages">Messages</a> ·
      <a href="#/topics/${encodeURIComponent(name)}?tab=partitions">Partitions</a> ·
      <a href="#/topics/${encodeURIComponent(name)}?tab=configs">Configs</a> ·
      <a href="#/search?topic=${encodeURIComponent(name)}">Search</a>
      <span style="flex:1"></span>
      <button class="danger" id="delete-topic">Delete topic</button></div>
    <div id="topic-body"></div>`;
  const body = document.getElementById("topic-body");
  document.getElementById("delete-topic").addEventListener("click", async () => {
    if (!confirm(`Delete topic ${name} and all its records?`)) return;
    try { await api(q, { method: "DELETE" }); location.hash = "#/topics"; } catch (e) { showError(document.getElementById("topic-err"), e); }
  });
  let t;
  try { t = await api(q); } catch (e) { showError(body, e); return; }
  if (gen !== generation) return;
  if (tab === "partitions") {
    body.innerHTML = `<p class="muted">${t.partitions} partition(s) · ${fmtNum(t.records)} records · ${fmtBytes(t.size_bytes)} · id ${esc(t.id)}</p>
      <table id="partitions-table"><thead><tr><th class="num">Partition</th><th class="num">Leader</th><th class="num">Start offset</th>
      <th class="num">End offset</th><th class="num">Records</th><th class="num">Size</th></tr></thead><tbody>
      ${t.partition_details.map(p => `<tr><td class="num">${p.partition}</td><td class="num">${p.leader}</td><td class="num">${fmtNum(p.start_offset)}</td>
      <td class="num">${fmtNum(p.end_offset)}</td><td class="num">${fmtNum(p.records)}</td><td class="num">${fmtBytes(p.size_bytes)}</td></tr>`).join("")}
      </tbody></table>`;
  } else if (tab === "configs") {
    const rows = t.configs.map(c => `<tr><td>${esc(c.name)}</td><td>${c.sensitive ? "••••" : esc(c.value ?? "null")}</td>
      <td>${c.source === "dynamic_topic" ? '<span class="pill">' + esc(c.source) + "</span>" : esc(c.source)}</td>
      <td class="muted">${esc(c.documentation || "")}</td></tr>`).join("");
    body.innerHTML = `<form id="set-config" class="toolbar"><label>Config<input name="key" placeholder="retention.ms" list="config-names"></label>
      <datalist id="config-names">${t.configs.map(c => `<option value="${esc(c.name)}">`).join("")}</datalist>
      <label>Value<input name="value"></label><button type="submit">Set</button></form><div id="config-msg"></div>
      <table class="configs" id="configs-table"><thead><tr><th>Name</th><th>Value</th><th>Source</th><th>Description</th></tr></thead>
      <tbody>${rows}</tbody></table>`;
    document.getElementById("set-config").addEventListener("submit", async ev => {
      ev.preventDefault();
      const f = ev.target, msg = document.getElementById("config-msg");
      try {
        await api(q + "/configs", { method: "PATCH", body: { set: { [f.key.value.trim()]: f.value.value } } });
        route();
      } catch (e) { showError(msg, e); }
    });
  } else {
    messagesView(gen, name, t, params, body);
  }
}

function messagesView(gen, name, t, params, body) {
  const parts = t.partition_details.map(p => `<option value="${p.partition}">${p.partition}</option>`).join("");
  body.innerHTML = `<form id="browse" class="toolbar">
      <label>Partition<select name="partition"><option value="">all</option>${parts}</select></label>
      <label>Start<select name="mode"><option value="latest">newest</option><option value="earliest">oldest</option>
        <option value="offset">at offset</option><option value="timestamp">at time</option></select></label>
      <label>Offset / time<input name="at" placeholder="42 or 2026-11-27T10:00:00Z"></label>
      <label>Limit<input name="limit" type="number" min="1" max="1000" value="50" style="width:80px"></label>
      <label>Show as<select name="format"><option value="json">JSON (pretty)</option><option value="text">text</option><option value="hex">hex</option></select></label>
      <button type="submit">Load</button></form>
    <details><summary>Produce a record</summary>
      <form id="produce" class="toolbar"><label>Key<input name="key"></label>
      <label>Value<textarea name="value" rows="2" cols="50"></textarea></label>
      <label>Headers (k=v, comma-separated)<input name="headers"></label><button type="submit">Produce</button></form></details>
    <div id="browse-msg"></div><div id="records"></div>`;
  const form = document.getElementById("browse");
  for (const k of ["partition", "mode", "at", "limit", "format"]) if (params.get(k)) form[k].value = params.get(k);
  const load = async () => {
    const qs = new URLSearchParams({ limit: form.limit.value || "50" });
    if (form.partition.value !== "") qs.set("partition", form.partition.value);
    const mode = form.mode.value, at = form.at.value.trim();
    if (mode === "latest") qs.set("offset", "-" + (form.limit.value || "50"));
    if (mode === "earliest") qs.set("offset", "earliest");
    if (mode === "offset") qs.set("offset", at || "0");
    if (mode === "timestamp") qs.set("timestamp", at);
    const box = document.getElementById("records");
    try {
      const res = await api("/topics/" + encodeURIComponent(name) + "/records?" + qs);
      if (gen !== generation) return;
      box.innerHTML = res.records.length
        ? `<p class="muted">${res.records.length} record(s)</p>` + res.records.map(r => recordHTML(r, form.format.value)).join("")
        : `<p class="muted">No records here.</p>`;
    } catch (e) { showError(box, e); }
  };
  form.addEventListener("submit", ev => { ev.preventDefault(); load(); });
  form.format.addEventListener("change", load);
  document.getElementById("produce").addEventListener("submit", async ev => {
    ev.preventDefault();
    const f = ev.target, msg = document.getElementById("browse-msg");
    const headers = f.headers.value.split(",").map(s => s.trim()).filter(Boolean).map(s => {
      const i = s.indexOf("=");
      return i < 0 ? { key: s, value: "" } : { key: s.slice(0, i), value: s.slice(i + 1) };
    });
    try {
      const r = await api("/topics/" + encodeURIComponent(name) + "/records", {
        method: "POST", body: { key: f.key.value === "" ? null : f.key.value, value: f.value.value, headers } });
      msg.innerHTML = `<div class="notice">Produced to partition ${r.partition} at offset ${r.offset}.</div>`;
      load();
    } catch (e) { showError(msg, e); }
  });
  load();
}

async function groupsPage(gen) {
  app.innerHTML = `<h1>Consumer groups</h1><div id="groups"></div>`;
  every(3000, async () => {
    const box = document.getElementById("groups");
    try {
      const g = await api("/groups");
      if (gen !== generation) return;
      box.innerHTML = g.groups.length ? `<table id="groups-table"><thead><tr><th>Group</th><th>State</th><th class="num">Members</th>
        <th class="num">Lag</th></tr></thead><tbody>${g.groups.map(x => `<tr data-group="${esc(x.group)}">
        <td><a href="#/groups/${encodeURIComponent(x.group)}">${esc(x.group)}</a></td><td><span class="pill ${esc(x.state)}">${esc(x.state)}</span></td>
        <td class="num">${x.members}</td><td class="num">${fmtNum(x.total_lag)}</td></tr>`).join("")}</tbody></table>`
        : `<p class="muted">No consumer groups yet.</p>`;
    } catch (e) { if (gen === generation) showError(box, e); }
  });
}

async function groupPage(gen, name) {
  const q = "/groups/" + encodeURIComponent(name);
  app.innerHTML = `<h1>Group ${esc(name)}</h1><div id="group-msg"></div><div id="group"></div>
    <h2>Reset offsets</h2>
    <form id="reset" class="toolbar"><label>To<select name="to"><option value="earliest">earliest</option><option value="latest">latest</option>
      <option value="timestamp">timestamp</option><option value="offset">offset</option></select></label>
      <label>Offset / time<input name="at" placeholder="for offset or timestamp"></label>
      <label>Topic (optional)<input name="topic"></label>
      <button type="submit" class="secondary" name="dry">Preview</button><button type="submit" name="apply">Reset</button>
      <span style="flex:1"></span><button type="button" class="danger" id="delete-group">Delete group</button></form>
    <div id="reset-result"></div>`;
  const load = async () => {
    const box = document.getElementById("group");
    try {
      const g = await api(q);
      if (gen !== generation) return;
      const maxLag = Math.max(1, ...g.partitions.map(p => p.lag || 0));
      box.innerHTML = `<div class="cards"><div class="card"><div class="label">State</div><div class="value"><span class="pill ${esc(g.state)}">${esc(g.state)}</span></div></div>
        <div class="card"><div class="label">Members</div><div class="value">${g.members.length}</div></div>
        <div class="card"><div class="label">Total lag</div><div class="value" id="total-lag">${fmtNum(g.total_lag)}</div></div>
        <div class="card"><div class="label">Assignor</div><div class="value" style="font-size:16px">${esc(g.protocol || "–")}</div></div></div>
        <h2>Members</h2>${g.members.length ? `<table id="members-table"><thead><tr><th>Member</th><th>Client</th><th>Host</th><th>Assigned</th></tr></thead><tbody>
        ${g.members.map(m => `<tr><td>${esc(m.member_id)}</td><td>${esc(m.client_id)}</td><td>${esc(m.host)}</td>
        <td>${m.assignments.map(a => esc(a.topic) + " [" + a.partitions.join(", ") + "]").join("<br>") || '<span class="muted">none</span>'}</td></tr>`).join("")}
        </tbody></table>` : `<p class="muted">No active members.</p>`}
        <h2>Lag per partition</h2>${g.partitions.length ? `<table id="lag-table"><thead><tr><th>Topic</th><th class="num">Partition</th>
        <th class="num">Committed</th><th class="num">Log end</th><th class="num">Lag</th><th>Member</th></tr></thead><tbody>
        ${g.partitions.map(p => `<tr data-topic="${esc(p.topic)}" data-partition="${p.partition}"><td>${esc(p.topic)}</td><td class="num">${p.partition}</td>
        <td class="num">${p.committed_offset == null ? "–" : fmtNum(p.committed_offset)}</td><td class="num">${fmtNum(p.log_end_offset)}</td>
        <td class="num lag">${p.lag == null ? "–" : fmtNum(p.lag)}${p.lag ? `<span class="lagbar" style="width:${Math.max(2, 80 * p.lag / maxLag)}px"></span>` : ""}</td>
        <td class="muted">${esc(p.member_id || "")}</td></tr>`).join("")}</tbody></table>` : `<p class="muted">No committed offsets.</p>`}`;
    } catch (e) { if (gen === generation) showError(box, e); }
  };
  const form = document.getElementById("reset");
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const dry = ev.submitter && ev.submitter.name === "dry";
    const body = { to: form.to.value, dry_run: dry };
    if (form.to.value === "offset") body.offset = Number(form.at.value);
    if (form.to.value === "timestamp") body.timestamp = form.at.value.trim();
    if (form.topic.value.trim()) body.topics = [form.topic.value.trim()];
    const out = document.getElementById("reset-result");
    try {
      const r = await api(q + "/reset-offsets", { method: "POST", body });
      out.innerHTML = `<div class="notice">${dry ? "Preview" : "Reset"}: ${r.partitions.map(c =>
        `${esc(c.topic)}/${c.partition} ${c.old_offset < 0 ? "–" : c.old_offset} → ${c.new_offset}`).join(", ")}</div>`;
      load();
    } catch (e) { showError(out, e); }
  });
  document.getElementById("delete-group").addEventListener("click", async () => {
    if (!confirm(`Delete group ${name} and its committed offsets?`)) return;
    try { await api(q, { method: "DELETE" }); location.hash = "#/groups"; } catch (e) { showError(document.getElementById("group-msg"), e); }
  });
  every(3000, load);
}

async function searchPage(gen, params) {
  let topics = [];
  try { topics = (await api("/topics")).topics.filter(t => t.search_enabled); } catch (e) { /* shown by the search */ }
  if (gen !== generation) return;
  app.innerHTML = `<h1>Search</h1>
    <form id="search" class="toolbar">
      <label>Topic<select name="topic"><option value="">all searchable topics</option>
        ${topics.map(t => `<option value="${esc(t.name)}">${esc(t.name)}</option>`).join("")}</select></label>
      <label style="flex:1">Query<input name="q" placeholder='level:error AND "payment failed"' style="width:100%"></label>
      <label>Sort<select name="sort"><option value="relevance">relevance</option><option value="-time">newest first</option><option value="time">oldest first</option></select></label>
      <label>Show as<select name="format"><option value="json">JSON (pretty)</option><option value="text">text</option></select></label>
      <button type="submit">Search</button></form>
    <p class="muted">Lucene syntax: <code>field:value</code>, <code>"a phrase"</code>, <code>pre*</code>, <code>AND OR NOT</code>,
      <code>amount:[10 TO 99]</code>, <code>amount:&gt;=10</code>. ${topics.length ? "" : "No topic has search on: create one with search on, or set chronik.search.enabled=true on a topic's configs."}</p>
    <div id="results"></div>`;
  const form = document.getElementById("search");
  if (params.get("topic")) form.topic.value = params.get("topic");
  if (params.get("q")) form.q.value = params.get("q");
  const run = async () => {
    const box = document.getElementById("results");
    const qs = new URLSearchParams({ q: form.q.value, sort: form.sort.value, limit: "50" });
    const path = form.topic.value ? "/topics/" + encodeURIComponent(form.topic.value) + "/search?" + qs : "/search?" + qs;
    try {
      const r = await api(path);
      if (gen !== generation) return;
      box.innerHTML = `<p class="muted" id="search-total">${fmtNum(r.total)} match(es) in ${r.took_ms.toFixed(1)} ms</p>` +
        r.hits.map(h => {
          const marks = h.highlights ? Object.entries(h.highlights).map(([f, frags]) =>
            `<div class="headers"><b>${esc(f)}</b>: ${frags.join(" … ")}</div>`).join("") : "";
          return recordHTML(h, form.format.value, `<span>topic <b><a href="#/topics/${encodeURIComponent(h.topic)}?tab=messages&partition=${h.partition}&mode=offset&at=${h.offset}">${esc(h.topic)}</a></b></span>`)
            .replace(/<\/div>$/, marks + "</div>");
        }).join("");
    } catch (e) { showError(box, e); }
  };
  form.addEventListener("submit", ev => {
    ev.preventDefault();
    const p = new URLSearchParams({ q: form.q.value });
    if (form.topic.value) p.set("topic", form.topic.value);
    window.history.replaceState(null, "", "#/search?" + p);
    run();
  });
  if (form.q.value) run();
}

// ---- router --------------------------------------------------------------

function route() {
  timers.forEach(clearInterval);
  timers = [];
  const gen = ++generation;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const section = parts[0] || "overview";
  document.querySelectorAll("header nav a").forEach(a => a.classList.toggle("active", a.dataset.nav === section));
  checkReady();
  if (section === "topics" && parts[1]) return topicPage(gen, parts[1], params);
  if (section === "topics") return topicsPage(gen);
  if (section === "groups" && parts[1]) return groupPage(gen, parts[1]);
  if (section === "groups") return groupsPage(gen);
  if (section === "search") return searchPage(gen, params);
  return overviewPage(gen);
}

window.addEventListener("hashchange", route);
setInterval(checkReady, 5000);
route();
