// DyadScope monitor: heart-rate traces of both people, live, resuming after
// any disconnect from the last event it saw (nothing lost, nothing twice).
"use strict";

const params = new URLSearchParams(location.search);
const sessionId = params.get("session") || "demo";
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const TRACE_SECONDS = 300;
const NOTICE_KINDS = new Set([
  "stream_found", "stream_lost", "stream_returned", "stream_problem", "processing_error", "quality",
]);

const state = {
  lastSeq: 0,
  retryMs: 1000,
  traces: { patient: [], therapist: [] },
};

const connection = document.getElementById("connection");
document.getElementById("session-name").textContent = `session ${sessionId}`;

function setConnection(cls, text) {
  connection.className = `state ${cls}`;
  connection.textContent = text;
}

function panel(role) {
  return document.querySelector(`.person[data-role="${role}"]`);
}

function onHeartRate(event) {
  const trace = state.traces[event.role];
  if (!trace || event.data.bpm == null) return;
  trace.push([event.t, event.data.bpm]);
  while (trace.length && trace[0][0] < event.t - TRACE_SECONDS) trace.shift();
  const el = panel(event.role);
  el.querySelector('[data-field="bpm"]').textContent = Math.round(event.data.bpm);
  el.querySelector('[data-field="quality"]').textContent =
    event.data.quality === "poor" ? `signal poor${event.data.reason ? ": " + event.data.reason : ""}` : "";
  draw(event.role);
}

function onNotice(event) {
  const list = document.getElementById("notice-list");
  const item = document.createElement("li");
  const who = event.role ? `${event.role} ` : "";
  const what = event.data.message || event.data.problems || "";
  item.textContent = `${new Date(event.t_emit * 1000).toLocaleTimeString()} ${who}${event.data.stream || ""}: ${event.kind.replace(/_/g, " ")} ${what}`;
  list.prepend(item);
  while (list.children.length > 20) list.lastChild.remove();
}

function draw(role) {
  const canvas = panel(role).querySelector("canvas");
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

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = new URLSearchParams({ after: String(state.lastSeq) });
  if (token) query.set("token", token);
  const ws = new WebSocket(`${scheme}://${location.host}/ws/sessions/${encodeURIComponent(sessionId)}?${query}`);
  ws.onopen = () => {
    state.retryMs = 1000;
    setConnection("live", "live");
  };
  ws.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.seq <= state.lastSeq) return;
    state.lastSeq = event.seq;
    if (event.kind === "heart_rate") onHeartRate(event);
    else if (NOTICE_KINDS.has(event.kind)) onNotice(event);
  };
  ws.onclose = (close) => {
    if (close.code === 4401 || close.code === 4404) {
      setConnection("lost", close.reason || "not allowed");
      return; // retrying cannot help; a person must fix the link
    }
    if (close.code === 4400) {
      // The service restarted and its log is new: start over from its beginning.
      state.lastSeq = 0;
      state.traces = { patient: [], therapist: [] };
    }
    setConnection("connecting", "reconnecting…");
    setTimeout(connect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 10000);
  };
}

connect();
