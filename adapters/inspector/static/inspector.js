// The inspector page: sessions from the server's websocket, or a file from disk.
import { ChartOverlay, cleanSvg } from "./chart.js";
import { duration, parseFile, viewAt, withInferredFacts } from "./model.js";
import { Timeline } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const state = {
  sessions: new Map(), // id -> summary
  selected: null, // {id, live, messages, hello, offline, name}
  overlay: null,
  scrub: null, // a time picked with the scrubber; null follows the end
  history: [], // configurations highlighted so far (for tests and for a glance back)
  lastArrival: 0,
};
const timeline = new Timeline($("timeline"));
window.inspector = state;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function ago(epochS) {
  const s = Math.max(0, Date.now() / 1000 - epochS);
  return s < 60 ? `${s.toFixed(0)}s` : s < 3600 ? `${(s / 60).toFixed(0)}m` : `${(s / 3600).toFixed(1)}h`;
}

function setStatus(text, cls = "") {
  $("status").textContent = text;
  $("status").className = cls;
}

// Sessions list --------------------------------------------------------------------------
function renderSessions() {
  const live = [], ended = [];
  for (const s of [...state.sessions.values()].sort((a, b) => b.started - a.started)) (s.live ? live : ended).push(s);
  const item = (s) => {
    const li = el("li", `session${state.selected?.id === s.id ? " selected" : ""}`);
    li.dataset.session = s.id;
    li.dataset.state = s.state;
    const who = [s.room ?? "(no room)", s.participant ?? "(no participant yet)"].join(" · ");
    li.append(el("div", "who", who));
    const line = el("div", "what");
    line.append(el("span", "provider", s.provider ?? "?"), el("span", `badge state-${s.state}`, s.state));
    line.append(el("span", "since", s.live ? `for ${ago(s.since)}` : `ended ${ago(s.ended_at ?? s.since)} ago`));
    if (s.dropped) line.append(el("span", "dropped", `${s.dropped} dropped`));
    li.append(line);
    li.addEventListener("click", () => select(s.id));
    return li;
  };
  $("live-sessions").replaceChildren(...(live.length ? live.map(item) : [el("li", "empty", "no live session")]));
  $("ended-sessions").replaceChildren(...(ended.length ? ended.map(item) : [el("li", "empty", "none yet")]));
}

// Selection ------------------------------------------------------------------------------
let socket = null;

function select(id) {
  const summary = state.sessions.get(id);
  state.selected = { id, live: summary?.live ?? false, messages: [], hello: null, offline: false, name: id };
  state.scrub = null;
  state.history = [];
  loadChart(`api/sessions/${encodeURIComponent(id)}/chart.svg`, { method: "GET" });
  socket?.send(JSON.stringify({ select: id }));
  renderSessions();
  schedule();
}

async function loadChart(url, init) {
  const box = $("chart");
  box.replaceChildren(el("div", "placeholder", "drawing the chart…"));
  state.overlay = null;
  try {
    const response = await fetch(url, init);
    const text = await response.text();
    if (!response.ok) throw new Error(text.trim() || `HTTP ${response.status}`);
    const svg = cleanSvg(text);
    box.replaceChildren(svg);
    state.overlay = new ChartOverlay(svg);
    box.dataset.loaded = "true";
  } catch (err) {
    box.replaceChildren(el("div", "placeholder error", `no chart: ${err.message}`));
  }
  schedule();
}

// Files from disk ------------------------------------------------------------------------
async function openFile(file) {
  let parsed;
  try {
    parsed = parseFile(await file.text());
  } catch (err) {
    setStatus(`${file.name}: ${err.message}`, "error");
    return;
  }
  const messages = parsed.fromTrace ? withInferredFacts(parsed.messages) : parsed.messages;
  const hello = messages.find((m) => m.type === "hello" && m.dot);
  state.selected = { id: `file:${file.name}`, live: false, messages, hello, offline: true, name: file.name };
  state.scrub = duration(messages);
  state.history = [];
  socket?.send(JSON.stringify({ select: null }));
  const skipped = parsed.bad ? ` (${parsed.bad} unreadable lines skipped)` : "";
  setStatus(`opened ${file.name}: ${parsed.messages.length} records${skipped}`);
  renderSessions();
  if (hello) loadChart("api/render", { method: "POST", body: hello.dot });
  else loadChart("api/chart.svg", { method: "GET" });
}

// Rendering ------------------------------------------------------------------------------
let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}

function liveNow(sel) {
  const end = duration(sel.messages);
  return sel.live ? end + Math.max(0, (performance.now() - state.lastArrival) / 1000) : end;
}

function render() {
  const sel = state.selected;
  $("title").textContent = sel ? (sel.offline ? `file: ${sel.name}` : describe(state.sessions.get(sel.id))) : "no session selected";
  if (!sel) return;
  const end = duration(sel.messages);
  const upto = state.scrub ?? end;
  const view = viewAt(sel.messages, upto);
  state.rendered = upto; // what the views show now (tests wait on it)
  const scrubber = $("scrubber");
  scrubber.max = String(Math.max(end, 0.01));
  scrubber.value = String(upto);
  $("scrub-time").textContent = `${upto.toFixed(2)}s / ${end.toFixed(2)}s`;
  $("follow").hidden = state.scrub === null || sel.offline;
  $("configuration").textContent = view.configuration.join(" · ") || "?";
  if (state.overlay) {
    const shown = state.overlay.show(view);
    const key = shown.join(",");
    if (shown.length && state.history[state.history.length - 1] !== key) state.history.push(key);
  }
  timeline.render(view, sel.live && state.scrub === null ? liveNow(sel) : end);
  renderTranscript(view);
  renderMetrics(view);
}

function describe(s) {
  if (!s) return "";
  return `${s.room ?? "(no room)"} · ${s.participant ?? "?"} · ${s.provider ?? "?"} · ${s.chart ?? ""}`;
}

function renderTranscript(view) {
  const rows = view.transcript.map((m) => {
    const row = el("li", `turn ${m.role}${m.interrupted ? " interrupted" : ""}`);
    row.append(el("span", "when", `${m.t.toFixed(1)}s`), el("span", "role", m.role === "user" ? "caller" : "agent"));
    row.append(el("span", "text", m.interrupted ? `${m.text.replace(/\.\.\.$/, "")} — cut off` : m.text));
    return row;
  });
  const off = state.selected?.offline ? "a trace has no transcript" : "nothing said yet (or transcripts are off)";
  $("transcript").replaceChildren(...(rows.length ? rows : [el("li", "empty", off)]));
}

const num = (v, digits = 2) => (typeof v === "number" ? v.toFixed(digits) : "–");

function renderMetrics(view) {
  const rows = view.metrics.map((m) => {
    const tr = el("tr");
    const cells = [m.response_id ?? "?", num(m.ttfa_s), num(m.duration_s), m.status ?? "", String(m.output_tokens ?? "–")];
    for (const c of cells) tr.append(el("td", "", c));
    if (m.cancelled) tr.className = "cancelled";
    return tr;
  });
  $("metrics-body").replaceChildren(...rows);
}

// Live cursor: a live session's time moves on between messages.
function tick() {
  const sel = state.selected;
  if (sel?.live && state.scrub === null) timeline.moveCursor(liveNow(sel));
  requestAnimationFrame(tick);
}

// The server -----------------------------------------------------------------------------
function connect() {
  const url = new URL("watch", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  socket = new WebSocket(url);
  socket.onopen = () => {
    setStatus("connected", "ok");
    if (state.selected && !state.selected.offline) socket.send(JSON.stringify({ select: state.selected.id }));
  };
  socket.onclose = () => {
    setStatus("disconnected: retrying", "error");
    setTimeout(connect, 1000);
  };
  socket.onmessage = (ev) => receive(JSON.parse(ev.data));
}

function receive(msg) {
  const sel = state.selected;
  if (msg.kind === "sessions") {
    state.sessions = new Map(msg.sessions.map((s) => [s.id, s]));
  } else if (msg.kind === "session") {
    state.sessions.set(msg.summary.id, msg.summary);
    if (sel && sel.id === msg.summary.id) sel.live = msg.summary.live;
  } else if (msg.kind === "snapshot" && sel && sel.id === msg.session) {
    sel.messages = msg.messages.slice();
    sel.hello = msg.hello;
    sel.live = msg.summary.live;
    state.lastArrival = performance.now();
  } else if (msg.kind === "messages" && sel && sel.id === msg.session) {
    sel.messages.push(...msg.messages);
    state.lastArrival = performance.now();
  }
  if (!sel) {
    // Nothing chosen yet: follow the newest live session.
    const live = [...state.sessions.values()].filter((s) => s.live).sort((a, b) => b.started - a.started);
    if (live.length) select(live[0].id);
  }
  renderSessions();
  schedule();
}

$("open-file").addEventListener("change", (ev) => {
  const file = ev.target.files?.[0];
  if (file) openFile(file);
});
$("scrubber").addEventListener("input", (ev) => {
  state.scrub = Number(ev.target.value);
  timeline.follow = true;
  schedule();
});
// A chart with several regions is small when fitted: a click shows it at its own size.
$("chart").addEventListener("click", () => {
  const svg = $("chart").querySelector("svg");
  if (!svg) return;
  const actual = $("chart").classList.toggle("actual");
  svg.style.width = actual ? svg.dataset.width : "";
  svg.style.height = actual ? svg.dataset.height : "";
});
$("follow").addEventListener("click", () => { state.scrub = null; schedule(); });
setInterval(renderSessions, 1000); // "for 12s" moves on
connect();
requestAnimationFrame(tick);
