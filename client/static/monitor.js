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
  "baseline_start", "baseline", "face_affect", "voice_segment", "talk_balance",
);
// Stream and recording notices belong to the rig page, not here.

const freshState = () => ({ traces: { patient: [], therapist: [] }, sync: {}, now: -Infinity });
let state = freshState();
let codebook = null;
document.getElementById("session-name").textContent = `session ${sessionId}`;

// One panel per person, from the page's template.
for (const panel of document.querySelectorAll(".person")) {
  const role = panel.dataset.role;
  panel.append(document.getElementById("person").content.cloneNode(true));
  panel.querySelector("h2").textContent = role[0].toUpperCase() + role.slice(1);
  panel.querySelector("canvas").setAttribute("aria-label", `${role} heart rate, last five minutes`);
  panel.querySelector("canvas.affect").setAttribute("aria-label", `${role} face and voice, last five minutes`);
}
const affect = new DyadScope.AffectView(
  (role) => document.querySelector(`.person[data-role="${role}"] canvas.affect`),
  document.getElementById("talk-balance"),
);
window.monitorAffect = affect; // for tests and debugging

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
  const entry = (state.sync[event.data.modality] ||= { sync: null, state: null });
  if (event.kind === K.sync) entry.sync = { ...event.data, t: event.t };
  else entry.state = event.data;
  refreshSync();
}

// Every row, against the newest data time seen: a modality whose values stopped reads "not enough signal".
function refreshSync() {
  for (const [modality, entry] of Object.entries(state.sync)) {
    const row = syncRow(modality);
    const words = DyadScope.syncWords(entry.sync, entry.state, entry.sync ? state.now - entry.sync.t : Infinity);
    row.querySelector("summary").textContent = words.text;
    row.querySelector(".detail").textContent = words.detail;
    row.cells[1].className = words.state;
  }
}

function syncRow(modality) {
  const body = document.getElementById("sync-rows");
  let row = body.querySelector(`tr[data-modality="${modality}"]`);
  if (!row) {
    row = body.insertRow();
    row.dataset.modality = modality;
    row.insertCell().textContent = modality.replace(/_/g, " ");
    const details = row.insertCell().appendChild(document.createElement("details"));
    details.append(document.createElement("summary"), Object.assign(document.createElement("p"), { className: "detail" }));
  }
  return row;
}

function onDissonance(event) {
  const words = DyadScope.dissonanceWords(event.data);
  document.getElementById("face-voice").textContent = words.status;
  if (!words.flag) return;
  // One line per episode, updated as its units come (found in the list itself, so nothing outlives it).
  const key = String(event.data.episode ? event.data.episode.start : event.t);
  let item = [...document.getElementById("flag-list").children].find((li) => li.dataset.episode === key);
  if (!item) {
    prependItem("flag-list", "");
    item = document.getElementById("flag-list").firstChild;
    Object.assign(item.dataset, { episode: key, since: clock(event) });
  }
  item.textContent = `${item.dataset.since} ${words.flag}`;
}

const HANDLERS = {
  [K.heart_rate]: onHeartRate,
  [K.rsa]: (e) => {
    const words = DyadScope.rsaWords(e.data);
    show(e.role, "rsa", words.value);
    show(e.role, "rsa-reactivity", words.against);
    if (e.role) field(e.role, "rsa").parentElement.title = words.title;
  },
  [K.eda]: (e) => show(e.role, "eda", fixed(e.data.tonic_us, 1)),
  [K.scr_rate]: (e) => show(e.role, "scr-rate", e.data.per_min == null ? "" : `${fixed(e.data.per_min, 1)} SCR/min`),
  [K.breathing_rate]: (e) => show(e.role, "breathing", fixed(e.data.rate_bpm, 1)),
  [K.sync]: onSync,
  [K.sync_state]: onSync,
  [K.desync_flag]: (e) => prependItem("flag-list",
    `${clock(e)} ${e.data.modality.replace(/_/g, " ")}: apart for ${fixed(e.data.out_of_sync_s / 60, 0)} min after `
    + `${fixed(e.data.in_sync_s / 60, 0)} min in sync`),
  [K.dissonance]: onDissonance,
  [K.baseline_start]: (e) => {
    const end = new Date((e.t_emit + e.data.duration_s) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    document.getElementById("baseline-state").textContent = `resting baseline until ${end}`;
  },
  [K.baseline]: () => { document.getElementById("baseline-state").textContent = "baseline done"; },
  [K.face_affect]: (e) => affect.face(e),
  [K.voice_segment]: (e) => affect.voice(e),
  [K.talk_balance]: (e) => affect.talk(e),
};

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
  if (event.t > state.now) state.now = event.t;
  if (HANDLERS[event.kind]) HANDLERS[event.kind](event);
  if (event.kind !== K.sync && event.kind !== K.sync_state) refreshSync();
}

const socket = new DyadScope.SessionSocket(sessionId, {
  onEvent,
  onReset: () => { // a new log: its events come again from the first
    state = freshState();
    Object.keys(state.traces).forEach(draw);
    affect.reset();
    document.getElementById("sync-rows").replaceChildren();
    document.getElementById("flag-list").replaceChildren();
  },
  onStatus: DyadScope.statusView(document.getElementById("connection")),
});
window.sessionSocket = socket; // for tests and debugging

DyadScope.loadCodebook(K).then((book) => {
  codebook = book;
  book.fillUnits();
  socket.open();
});
