// DyadScope monitor: a calm view of both people and the two together, live,
// resuming after any disconnect from the last event it saw (nothing lost,
// nothing twice). Only rare flags ask for attention.
"use strict";

const params = new URLSearchParams(location.search);
const sessionId = params.get("session") || "demo";
const TRACE_SECONDS = 300;
const MAX_LIST = 20;
const K = DyadScope.kindNames(
  "heart_rate", "rsa", "eda", "scr_rate", "breathing_rate", "sync", "sync_state", "desync_flag", "dissonance",
  "baseline_start", "baseline", "quality", "stream_found", "stream_lost", "stream_returned", "stream_invalid",
  "stream_unassigned", "stream_quality", "stream_quality_ok", "processing_error", "recording_started",
  "recording_stopped",
);
const NOTICE_KINDS = new Set([
  K.stream_found, K.stream_lost, K.stream_returned, K.stream_invalid, K.stream_unassigned,
  K.stream_quality, K.stream_quality_ok, K.processing_error, K.recording_started, K.recording_stopped,
]);

const state = { traces: { patient: [], therapist: [] } };
let codebook = null;
document.getElementById("session-name").textContent = `session ${sessionId}`;

// One panel per person, from the page's template.
for (const panel of document.querySelectorAll(".person")) {
  const role = panel.dataset.role;
  panel.append(document.getElementById("person").content.cloneNode(true));
  panel.querySelector("h2").textContent = role[0].toUpperCase() + role.slice(1);
  panel.querySelector("canvas").setAttribute("aria-label", `${role} heart rate, last five minutes`);
}

function field(role, name) {
  return document.querySelector(`.person[data-role="${role}"] [data-field="${name}"]`);
}

function show(role, name, text) {
  const el = role && field(role, name);
  if (el) el.textContent = text;
}

function fixed(value, digits = 0) {
  return value == null ? "–" : Number(value).toFixed(digits);
}

function clock(event) {
  return new Date(event.t_emit * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function prependItem(listId, text) {
  const list = document.getElementById(listId);
  const item = document.createElement("li");
  item.textContent = text;
  list.prepend(item);
  while (list.children.length > MAX_LIST) list.lastChild.remove();
}

function onHeartRate(event) {
  const trace = state.traces[event.role];
  if (!trace || event.data.bpm == null) return;
  trace.push([event.t, event.data.bpm]);
  while (trace.length && trace[0][0] < event.t - TRACE_SECONDS) trace.shift();
  show(event.role, "bpm", fixed(event.data.bpm));
  show(event.role, "quality",
    event.data.quality === "poor" ? `signal poor${event.data.reason ? ": " + event.data.reason.replace(/_/g, " ") : ""}` : "");
  draw(event.role);
}

function onSync(event) {
  const row = syncRow(event.data.modality);
  const lag = event.data.lag_s;
  let who = "together";
  if (event.data.leader === "patient") who = `therapist follows by ${fixed(Math.abs(lag), 1)} s`;
  else if (event.data.leader === "therapist") who = `patient follows by ${fixed(Math.abs(lag), 1)} s`;
  row.cells[1].textContent = `${fixed(event.data.r, 2)}${event.data.above_chance === false ? " (chance level)" : ""}`;
  row.cells[2].textContent = who;
}

function syncRow(modality) {
  const body = document.getElementById("sync-rows");
  let row = body.querySelector(`tr[data-modality="${modality}"]`);
  if (!row) {
    row = body.insertRow();
    row.dataset.modality = modality;
    for (let i = 0; i < 4; i++) row.insertCell();
    row.cells[0].textContent = modality.replace(/_/g, " ");
  }
  return row;
}

const HANDLERS = {
  [K.heart_rate]: onHeartRate,
  [K.rsa]: (e) => {
    show(e.role, "rsa", fixed(e.data.p2t_mean_ms));
    const r = e.data.reactivity_p2t_ms;
    show(e.role, "rsa-reactivity", r == null ? "" : `${r >= 0 ? "+" : "−"}${fixed(Math.abs(r))} vs rest`);
  },
  [K.eda]: (e) => show(e.role, "eda", fixed(e.data.tonic_us, 1)),
  [K.scr_rate]: (e) => show(e.role, "scr-rate", e.data.per_min == null ? "" : `${fixed(e.data.per_min, 1)} SCR/min`),
  [K.breathing_rate]: (e) => show(e.role, "breathing", fixed(e.data.rate_bpm, 1)),
  [K.sync]: onSync,
  [K.sync_state]: (e) => {
    const cell = syncRow(e.data.modality).cells[3];
    cell.textContent = e.data.state === "in_sync" ? "in sync" : "apart";
    cell.className = e.data.state;
  },
  [K.desync_flag]: (e) => prependItem("flag-list",
    `${clock(e)} out of sync in ${e.data.modality.replace(/_/g, " ")} for ${fixed(e.data.out_of_sync_s / 60, 0)} min`),
  [K.dissonance]: (e) => {
    if (!e.data.dissonant) return;
    const dims = (e.data.crossed || e.data.dimensions || []).join(" and ");
    prependItem("flag-list", `${clock(e)} patient: voice and face differ in ${dims}`);
  },
  [K.baseline_start]: (e) => {
    const end = new Date((e.t_emit + e.data.duration_s) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    document.getElementById("baseline-state").textContent = `resting baseline until ${end}`;
  },
  [K.baseline]: () => { document.getElementById("baseline-state").textContent = "baseline done"; },
};

function onNotice(event) {
  const who = event.role ? `${event.role} ` : "";
  const problems = (event.data.problems || []).join(", ");
  const what = event.data.message || (problems ? `${event.data.stream}: ${problems}` : codebook.meaning(event.kind));
  prependItem("notice-list", `${clock(event)} ${who}${what}`);
}

function draw(role) {
  const canvas = document.querySelector(`.person[data-role="${role}"] canvas`);
  const ctx = canvas.getContext("2d");
  const trace = state.traces[role];
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (trace.length < 2) return;
  const tEnd = trace[trace.length - 1][0];
  const values = trace.map((p) => p[1]);
  const lo = Math.min(...values) - 5, hi = Math.max(...values) + 5;
  const x = (t) => canvas.width * (1 - (tEnd - t) / TRACE_SECONDS);
  const y = (v) => canvas.height * (1 - (v - lo) / (hi - lo));
  ctx.fillStyle = "#8a8a85";
  ctx.font = "20px system-ui";
  ctx.fillText(`${Math.round(hi)}`, 4, 20);
  ctx.fillText(`${Math.round(lo)}`, 4, canvas.height - 6);
  ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue(`--${role}`);
  ctx.lineWidth = 3;
  ctx.beginPath();
  trace.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
  ctx.stroke();
}

function onEvent(event) {
  codebook.knows(event.kind);
  window.monitorState = { lastSeq: socket.lastSeq }; // for tests and debugging
  if (HANDLERS[event.kind]) HANDLERS[event.kind](event);
  else if (NOTICE_KINDS.has(event.kind) || (event.kind === K.quality && event.data.status === "poor")) onNotice(event);
}

const socket = new DyadScope.SessionSocket(sessionId, {
  onEvent,
  onReset: () => { // a new log: its events come again from the first
    state.traces = { patient: [], therapist: [] };
    Object.keys(state.traces).forEach(draw);
  },
  onStatus: DyadScope.statusView(document.getElementById("connection")),
});
window.sessionSocket = socket; // for tests and debugging

DyadScope.loadCodebook(K).then((book) => {
  codebook = book;
  book.fillUnits();
  socket.open();
});
