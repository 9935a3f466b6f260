// DyadScope rig page: the research assistant's controls for a session —
// streams and their quality live, resting baseline, markers, recording.
"use strict";

const select = document.getElementById("session");
const K = DyadScope.kindNames(
  "stream_found", "stream_returned", "stream_lost", "quality", "stream_invalid", "stream_unassigned",
  "stream_quality", "stream_quality_ok", "baseline_start", "baseline", "recording_started", "recording_stopped",
);
const showStatus = DyadScope.statusView(document.getElementById("connection"));
let socket = null;
let codebook = null;
const streams = new Map(); // stream name -> {person, type, rate, state}

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

function renderStreams() {
  const body = document.getElementById("streams");
  body.replaceChildren();
  for (const [name, s] of [...streams.entries()].sort()) {
    const row = body.insertRow();
    for (const text of [name, s.person || "–", s.type, s.rate ? `${s.rate} Hz` : "irregular", s.state]) {
      row.insertCell().textContent = text;
    }
    row.cells[4].className = s.state.startsWith("good") ? "good" : s.state.startsWith("lost") ? "lost" : "poor";
  }
}

function foundStream(event, known) {
  const d = event.data;
  streams.set(d.stream, { person: event.role, type: d.modality, rate: known?.rate, state: "good" });
}

/** A handler that sets the known stream's state to stateOf(event.data). */
function setStream(stateOf) {
  return (event, known) => { if (known) known.state = stateOf(event.data); };
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

// What each kind does to the page; (event, the stream it is about, if known).
const HANDLERS = {
  [K.stream_found]: foundStream,
  [K.stream_returned]: foundStream,
  [K.stream_lost]: setStream((d) => `lost (${d.reason || "no data"})`),
  [K.quality]: setStream((d) => (d.status === "good" ? "good" : `poor: ${d.problems.join(", ")}`)),
  [K.stream_quality]: setStream((d) => `poor: ${d.problem}`),
  [K.stream_quality_ok]: setStream(() => "good"),
  [K.stream_invalid]: () => {}, // its message says it all
  [K.stream_unassigned]: () => {},
  [K.baseline_start]: (e) =>
    setText("baseline-state", `running for ${e.data.duration_s} ${codebook.unit(K.baseline_start, "duration_s") || "s"}`),
  [K.baseline]: (e) => setText("baseline-state", `${e.role} done`),
  [K.recording_started]: (e) => setText("recording-state", `recording ${e.data.path || ""}`),
  [K.recording_stopped]: (e) => setText("recording-state", `stopped${e.data.error ? ": " + e.data.error : ""}`),
};

function onEvent(event) {
  codebook.knows(event.kind);
  const handler = HANDLERS[event.kind];
  if (!handler) return;
  handler(event, event.data.stream && streams.get(event.data.stream));
  if (event.data.message) log(event.data.message);
  renderStreams();
}

/** Add the session's streams as the service describes them (their rates come only from there). */
async function describeStreams(id) {
  const session = await api("GET", `/api/sessions/${id}`);
  for (const s of session.streams) {
    const known = streams.get(s.name);
    streams.set(s.name, { person: s.role, type: s.modality, rate: s.nominal_rate, state: known?.state || "good" });
  }
  renderStreams();
}

async function showSession(id) {
  if (socket) socket.close();
  socket = null;
  streams.clear();
  renderStreams();
  if (!id) return;
  await describeStreams(id);
  const fragment = DyadScope.token() ? `#token=${DyadScope.token()}` : "";
  document.getElementById("monitor-link").href = `/?session=${id}${fragment}`;
  document.getElementById("capture-link").href = `/capture?session=${id}&role=patient${fragment}`;
  const onReset = () => { // a new log: what the page knew of the streams is gone with the old one
    streams.clear();
    renderStreams();
    describeStreams(id).catch((err) => log(`error: ${err.message}`));
  };
  socket = new DyadScope.SessionSocket(id, { onEvent, onReset, onStatus: showStatus });
  window.sessionSocket = socket; // for tests and debugging
  socket.open();
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

form("new-session", async (f) => {
  const participants = {};
  if (f.patient) participants.patient = f.patient;
  if (f.therapist) participants.therapist = f.therapist;
  await api("POST", "/api/sessions", { id: f.id, participants });
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
    return refreshSessions();
  }).catch((err) => {
    if (err.status === 401) showStatus({ state: "unauthorized", text: err.message }, { open: start }); // ask for the token
    else log(`error: ${err.message}`);
  });
}

start();
