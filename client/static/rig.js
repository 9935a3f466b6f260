// DyadScope rig page: the research assistant's controls for a session —
// streams and their quality live (rig_streams.js), resting baseline with a
// countdown per person, markers, recording with its elapsed time and size.
"use strict";

const select = document.getElementById("session");
const K = DyadScope.kindNames(
  "stream_found", "stream_returned", "stream_lost", "quality", "stream_invalid", "stream_unassigned",
  "stream_quality", "stream_quality_ok", "baseline_start", "baseline", "recording_started", "recording_stopped",
  "stream_preview",
);
const showStatus = DyadScope.statusView(document.getElementById("connection"));
let socket = null;
let codebook = null;
const baselines = new Map(); // role -> {end (ms, browser clock), result}
let recordingPoll = null;

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json", ...DyadScope.authHeaders() };
  const reply = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await reply.text();
  const data = text ? JSON.parse(text) : null;
  if (!reply.ok) {
    throw Object.assign(new Error((data && (data.detail?.[0]?.msg || data.detail)) || `${reply.status}`), { status: reply.status });
  }
  return data;
}

function log(text) {
  const list = document.getElementById("log");
  const item = document.createElement("li");
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  list.prepend(item);
  while (list.children.length > 50) list.lastChild.remove();
}

/** A handler that sets the event's stream's state to stateOf(event.data) = [state, reason]. */
function setStream(stateOf) {
  return (event) => RigStreams.setState(event.data.stream, ...stateOf(event.data));
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

// What each kind does to the page; (event, the stream it is about, if known).
const HANDLERS = {
  [K.stream_found]: (e) => RigStreams.found(e),
  [K.stream_returned]: (e) => RigStreams.found(e),
  [K.stream_lost]: setStream((d) => ["lost", d.reason || "no data"]),
  [K.quality]: setStream((d) => (d.status === "good" ? ["good"] : ["poor", d.problems.join(", ")])),
  [K.stream_quality]: setStream((d) => ["poor", d.message.replace(`${d.stream}: `, "")]),
  [K.stream_quality_ok]: setStream(() => ["good"]),
  [K.stream_invalid]: () => {}, // its message says it all
  [K.stream_unassigned]: () => describeStreams(select.value).catch((err) => log(`error: ${err.message}`)),
  [K.stream_preview]: (e) => RigStreams.preview(e),
  [K.baseline_start]: (e) => {
    const duration = e.data.duration_s;
    for (const role of e.data.roles) baselines.set(role, { end: (e.t_emit + duration) * 1000, duration, result: null });
    showBaselines();
  },
  [K.baseline]: (e) => {
    baselines.set(e.role, { ...baselines.get(e.role), end: 0, result: `done, ${baselineResult(e.data)}` });
    showBaselines();
  },
  [K.recording_started]: (e) => showRecording(e.data),
  [K.recording_stopped]: (e) => showRecording(e.data),
};

function onEvent(event) {
  codebook.knows(event.kind);
  const handler = HANDLERS[event.kind];
  if (!handler) return;
  handler(event);
  if (event.data.message) log(event.data.message);
  RigStreams.render();
}

/** A baseline's resting values in words (an assistant gets only its breaths; see service/access.py). */
function baselineResult(d) {
  const unit = (field) => codebook.unit(K.baseline, field) || "";
  const parts = [
    ["heart_rate_bpm", 0, ""], ["rsa_p2t_ms", 0, "RSA "], ["eda_tonic_us", 2, "EDA "],
  ].filter(([f]) => d[f] != null).map(([f, digits, label]) => `${label}${d[f].toFixed(digits)} ${unit(f)}`);
  parts.push(d.breaths ? `${d.breaths} breaths` : "no good breathing seen");
  return parts.join(", ");
}

/** Each role's baseline: seconds left while it runs, then its result. */
function showBaselines() {
  const list = document.getElementById("baseline-state");
  list.replaceChildren();
  for (const [role, b] of [...baselines.entries()].sort()) {
    const left = Math.max(0, Math.ceil((b.end - Date.now()) / 1000));
    const item = Object.assign(document.createElement("span"), { className: "baseline-role" });
    item.dataset.role = role;
    item.dataset.duration = b.duration ?? "";
    item.textContent = `${role}: ${b.result || (left ? `${left} s left` : "ending…")}`;
    list.append(item);
  }
}
setInterval(() => { if ([...baselines.values()].some((b) => !b.result)) showBaselines(); }, 1000);

function clock(seconds) {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function size(bytes) {
  return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The recording's state; while it runs, its elapsed time, size and streams, polled every second. */
function showRecording(r) {
  const el = document.getElementById("recording-state");
  el.className = r.recording ? "recording" : "";
  el.textContent = r.recording
    ? `recording ${r.path || ""} · ${clock(r.elapsed_s || 0)} · ${size(r.bytes || 0)} · ${plural(r.streams_recorded || 0, "stream")}`
    : r.path || r.error ? `stopped${r.error ? ": " + r.error : ""}` : "";
  clearTimeout(recordingPoll);
  if (r.recording) recordingPoll = setTimeout(pollRecording, 1000);
}

async function pollRecording() {
  if (!select.value) return;
  try {
    showRecording((await api("GET", `/api/sessions/${select.value}`)).recording);
  } catch (err) {
    log(`error: ${err.message}`);
  }
}

/** Take the session as the service describes it (rates, required streams, unassigned ones, recording). */
async function describeStreams(id) {
  const session = await api("GET", `/api/sessions/${id}`);
  RigStreams.describe(session);
  showRecording(session.recording);
}

async function showSession(id) {
  if (socket) socket.close();
  socket = null;
  RigStreams.reset();
  baselines.clear();
  showBaselines();
  if (!id) return;
  await describeStreams(id);
  refreshNetwork();
  const fragment = DyadScope.token() ? `#token=${DyadScope.token()}` : "";
  document.getElementById("monitor-link").href = `/?session=${id}${fragment}`;
  document.getElementById("capture-link").href = `/capture?session=${id}&role=patient${fragment}`;
  const onReset = () => { // a new log: what the page knew of the streams is gone with the old one
    RigStreams.reset();
    baselines.clear();
    showBaselines();
    describeStreams(id).catch((err) => log(`error: ${err.message}`));
  };
  socket = new DyadScope.SessionSocket(id, { onEvent, onReset, onStatus: showStatus });
  window.sessionSocket = socket; // for tests and debugging
  socket.open();
}

/** Every visible LSL stream and the session holding it (none for a role that may not list them). */
async function refreshNetwork() {
  const found = await api("GET", "/api/streams").catch(() => []);
  const body = document.getElementById("network-streams");
  body.replaceChildren();
  for (const s of found) {
    const row = body.insertRow();
    row.dataset.sourceId = s.source_id;
    for (const text of [s.name, s.type, s.hostname, s.source_id, s.session || "free"]) row.insertCell().textContent = text;
    if (s.session === select.value) row.className = "ours";
  }
}
document.getElementById("network-refresh").addEventListener("click", (e) => {
  e.preventDefault();
  refreshNetwork();
});

/** The saved rig profiles in the new-session form (none for a role that may not read them). */
async function refreshProfiles() {
  const profiles = await api("GET", "/api/rigs").catch(() => ({}));
  const choice = document.querySelector("#new-session [name=profile]");
  choice.replaceChildren(new Option("no rig profile", ""), ...Object.keys(profiles).map((n) => new Option(n, n)));
}

async function refreshSessions(choose) {
  const sessions = await api("GET", "/api/sessions");
  select.replaceChildren(...sessions.map((s) => new Option(s.id, s.id)));
  const wanted = choose || new URLSearchParams(location.search).get("session") || sessions[0]?.id;
  if (wanted) select.value = wanted;
  await showSession(select.value);
}

function form(id, handler) {
  document.getElementById(id).addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await handler(Object.fromEntries(new FormData(e.target)), e.target);
    } catch (err) {
      log(`error: ${err.message}`);
    }
  });
}

/** "a, b ,c" as ["a", "b", "c"]. */
function listOf(text) {
  return (text || "").split(",").map((t) => t.trim()).filter(Boolean);
}

form("new-session", async (f) => {
  const participants = {};
  if (f.patient) participants.patient = f.patient;
  if (f.therapist) participants.therapist = f.therapist;
  const body = { id: f.id, participants, streams: listOf(f.streams), required: listOf(f.required) };
  if (f.profile) body.profile = f.profile;
  await api("POST", "/api/sessions", body);
  log(`session ${f.id} started`);
  await refreshSessions(f.id);
});
form("baseline", (f) => api("POST", `/api/sessions/${select.value}/baseline`, { duration_s: Number(f.duration_s) }));
form("marker", async (f, el) => {
  await api("POST", `/api/sessions/${select.value}/markers`, { text: f.text });
  log(`marker: ${f.text}`);
  el.reset();
});
form("recording", (f) => api("POST", `/api/sessions/${select.value}/recording`, { subject: f.subject, session: f.session }));
document.querySelector("#recording [name=stop]").addEventListener("click", () =>
  api("DELETE", `/api/sessions/${select.value}/recording`).catch((err) => log(`error: ${err.message}`)));
select.addEventListener("change", () => showSession(select.value));

function start() {
  DyadScope.loadCodebook(K).then((book) => {
    codebook = book;
    refreshProfiles();
    return refreshSessions();
  }).catch((err) => {
    if (err.status === 401) showStatus({ state: "unauthorized", text: err.message }, { open: start }); // ask for the token
    else log(`error: ${err.message}`);
  });
}

start();
