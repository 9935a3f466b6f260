// DyadScope rig page: the research assistant's controls for a session —
// streams and their quality live, resting baseline, markers, recording.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const headers = { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) };
const select = document.getElementById("session");
const connection = document.getElementById("connection");
let socket = null;
let lastSeq = 0;
const streams = new Map(); // stream name -> {person, type, rate, state}

async function api(method, path, body) {
  const reply = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await reply.text();
  const data = text ? JSON.parse(text) : null;
  if (!reply.ok) throw new Error((data && (data.detail?.[0]?.msg || data.detail)) || `${reply.status}`);
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

function onEvent(event) {
  const d = event.data;
  const known = d.stream && streams.get(d.stream);
  if (event.kind === "stream_found" || event.kind === "stream_returned") {
    streams.set(d.stream, { person: event.role, type: d.modality, rate: known?.rate, state: "good" });
  } else if (event.kind === "stream_lost" && known) {
    known.state = `lost (${d.reason || "no data"})`;
  } else if (event.kind === "quality" && known) {
    known.state = d.status === "good" ? "good" : `poor: ${d.problems.join(", ")}`;
  } else if (["stream_invalid", "stream_unassigned", "stream_quality", "stream_quality_ok"].includes(event.kind)) {
    if (known && event.kind === "stream_quality") known.state = `poor: ${d.problem}`;
    if (known && event.kind === "stream_quality_ok") known.state = "good";
  } else if (event.kind === "baseline_start") {
    document.getElementById("baseline-state").textContent = `running for ${d.duration_s} s`;
  } else if (event.kind === "baseline") {
    document.getElementById("baseline-state").textContent = `${event.role} done`;
  } else if (event.kind === "recording_started" || event.kind === "recording_stopped") {
    document.getElementById("recording-state").textContent =
      event.kind === "recording_started" ? `recording ${d.path || ""}` : `stopped${d.error ? ": " + d.error : ""}`;
  } else {
    return;
  }
  if (d.message) log(d.message);
  renderStreams();
}

async function showSession(id) {
  if (socket) socket.close(1000);
  streams.clear();
  lastSeq = 0;
  if (!id) return;
  const session = await api("GET", `/api/sessions/${id}`);
  for (const s of session.streams) {
    streams.set(s.name, { person: s.role, type: s.modality, rate: s.nominal_rate, state: "good" });
  }
  renderStreams();
  const fragment = token ? `#token=${token}` : "";
  document.getElementById("monitor-link").href = `/?session=${id}${fragment}`;
  document.getElementById("capture-link").href = `/capture?session=${id}&role=patient${fragment}`;
  connect(id);
}

function connect(id) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = new URLSearchParams({ after: String(lastSeq) });
  const ws = (socket = new WebSocket(`${scheme}://${location.host}/ws/sessions/${id}?${query}`));
  ws.onopen = () => {
    if (token) ws.send(JSON.stringify({ type: "auth", token })); // never in a URL
    connection.className = "state live";
    connection.textContent = "live";
  };
  ws.onmessage = (m) => {
    const event = JSON.parse(m.data);
    if (event.seq <= lastSeq) return;
    lastSeq = event.seq;
    onEvent(event);
  };
  ws.onclose = (close) => {
    if (ws !== socket || close.code === 1000) return;
    connection.className = "state connecting";
    connection.textContent = close.code === 4404 ? "session ended" : "reconnecting…";
    if (close.code !== 4404 && close.code !== 4401) setTimeout(() => connect(id), 2000);
  };
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

refreshSessions().catch((err) => log(`error: ${err.message}`));
