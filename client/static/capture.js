// DyadScope capture page: sends this device's camera and microphone to a session over WebRTC.
// URL: /capture?session=ID&role=...&view=...&hears=...&autostart=1#token=TOKEN. The query holds
// session (required), role, view ("self" or "left,right"), hears ("self", or "shared": the
// microphone hears both people) and autostart=1; the access token is in the
// fragment, which the browser never sends to a server or proxy, and goes out only as an
// "Authorization: Bearer" header.
// The service reports what it receives over a data channel once a second; that drives the
// "receiving" indicator. A lost connection is re-established by itself, with growing pauses, and
// so is one over which the service has received no media for NO_MEDIA_MS.
// The session's events say whether it is being recorded: the people in view see it here.
// When it cannot capture, the page says why in words and what to do (PROBLEMS): not a secure
// context (plain http beyond this machine), camera or microphone refused, none found or busy, or no
// media path to the service (its UDP ports blocked). state.problem names the one shown.
"use strict";

const params = new URLSearchParams(location.search);
const el = (id) => document.getElementById(id);
const state = {
  connected: false, receiving: false, lastStatus: null, reconnects: 0, error: null, recording: false, problem: null,
};
window.captureState = state;  // read by the end-to-end tests

let stream = null;
let pc = null;
let lastMessageAt = 0;
let lastMediaAt = 0;  // when the service last reported media, or the connection was (re)made
const NO_MEDIA_MS = 10000;
const NO_PATH_MS = 15000;  // answered but not connected by then: no media path (the service gives up at 20 s)
let media = null;  // where the service listens for media: {addresses, udp_ports}, from its answer
const retry = new DyadScope.Backoff(1000, 15000);
let retryTimer = null;
const K = DyadScope.kindNames("recording_started", "recording_stopped");

function show(text, cls) {
  el("state").textContent = text;
  el("dot").className = cls || "";
}

const PROBLEMS = {
  insecure: () => `This page was opened over plain http at ${location.host}, which is not a secure context: ` +
    "the browser gives it no camera or microphone. Open the service's https:// address instead " +
    `(https://${location.hostname}…/capture, as printed by "dyadscope serve --tls-cert …"), keeping the ` +
    "#token part of the link. If the browser warns about the certificate, first trust the clinic CA: download " +
    "it from /ca.pem at that https:// address and install it on this device.",
  permission: () => "The browser was refused the camera or microphone. Allow both for this site (the camera " +
    "icon in the address bar, or the browser's site settings), then press Start.",
  nodevice: () => "No camera or microphone was found (or the chosen one is gone). Connect one, or choose " +
    "\"none\" for the one this device does not have, then press Start.",
  busy: () => "The camera or microphone cannot be opened: another app may be using it. Close that app, then " +
    "press Start.",
  nopath: () => "The service answered, but no media path to it opened: this device must reach UDP ports " +
    `${media ? media.udp_ports : "(the configured media_udp_ports)"} on ` +
    `${media ? media.addresses.join(", ") : "the service's address"}. Open them in the firewall between this ` +
    "device and the service (or join the service's network); the page keeps trying by itself.",
};

const DEVICE_PROBLEMS = {
  NotAllowedError: "permission", SecurityError: "permission",
  NotFoundError: "nodevice", OverconstrainedError: "nodevice",
  NotReadableError: "busy", AbortError: "busy",
};

function explain(problem) {
  state.problem = problem;
  el("help").hidden = !problem;
  el("help").textContent = problem ? PROBLEMS[problem]() : "";
}

async function listDevices() {
  if (!navigator.mediaDevices) return;  // not a secure context: explained at start
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, select] of [["videoinput", el("camera")], ["audioinput", el("microphone")]]) {
    const chosen = select.value;
    select.innerHTML = "";
    const none = document.createElement("option");
    none.value = "off";
    none.textContent = "none";
    for (const d of devices.filter((d) => d.kind === kind)) {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || `${kind} ${select.length + 1}`;
      select.appendChild(option);
    }
    select.appendChild(none);
    if (chosen) select.value = chosen;
  }
}

async function openDevices() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  const camera = el("camera").value;
  const microphone = el("microphone").value;
  stream = await navigator.mediaDevices.getUserMedia({
    video: camera === "off" ? false : { deviceId: camera ? { exact: camera } : undefined, width: 640, height: 480 },
    audio: microphone === "off" ? false : { deviceId: microphone ? { exact: microphone } : undefined },
  });
  el("preview").srcObject = stream;
  await listDevices();
}

function waitForIce(connection) {
  if (connection.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (connection.iceGatheringState === "complete") resolve(); };
    connection.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000);  // send what was gathered so far
  });
}

function body(sdp) {
  const role = el("role").value;
  const view = el("view").value;
  return {
    sdp, type: "offer", role,
    camera_roles: view === "self" ? [role] : view.split(","),
    microphone_role: stream.getAudioTracks().length ? (el("hears").value === "shared" ? "shared" : role) : null,
  };
}

async function connect() {
  clearTimeout(retryTimer);
  if (pc) pc.close();
  show("connecting…", "trouble");
  const connection = new RTCPeerConnection();
  pc = connection;
  state.lastStatus = null;  // what the last connection received says nothing about this one
  lastMessageAt = 0;
  const channel = connection.createDataChannel("status");
  channel.onmessage = (event) => {
    state.lastStatus = JSON.parse(event.data);
    lastMessageAt = Date.now();
  };
  channel.onclose = () => { if (pc === connection) scheduleReconnect("status channel closed"); };
  stream.getTracks().forEach((track) => connection.addTrack(track, stream));
  let everConnected = false;
  connection.onconnectionstatechange = () => {
    state.connected = connection.connectionState === "connected";
    if (state.connected) {
      everConnected = true;
      if (state.problem === "nopath") explain(null);
    }
    if (["failed", "disconnected", "closed"].includes(connection.connectionState) && pc === connection) {
      if (!everConnected) explain("nopath");
      scheduleReconnect(`connection ${connection.connectionState}`);
    }
  };
  await connection.setLocalDescription(await connection.createOffer());
  await waitForIce(connection);
  const session = encodeURIComponent(params.get("session") || "");
  const headers = { "Content-Type": "application/json", ...DyadScope.authHeaders() };
  const reply = await fetch(`/api/sessions/${session}/webrtc/offer`, {
    method: "POST",
    headers,
    body: JSON.stringify(body(connection.localDescription.sdp)),
  });
  if (!reply.ok) {
    const detail = await reply.json().catch(() => ({}));
    throw new Error(detail.detail || `the service answered ${reply.status}`);
  }
  const answer = await reply.json();
  media = answer.media || null;
  await connection.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  show("connecting to the service…", "trouble");
  setTimeout(() => {
    if (pc === connection && !everConnected) {
      explain("nopath");
      scheduleReconnect("no media path to the service");
    }
  }, NO_PATH_MS);
  lastMediaAt = Date.now();
  retry.reset();
}

function scheduleReconnect(reason) {
  if (retryTimer) return;
  state.connected = false;
  state.error = reason;
  const delayMs = retry.next();
  show(`reconnecting in ${Math.round(delayMs / 1000)} s (${reason})`, "trouble");
  retryTimer = setTimeout(async () => {
    retryTimer = null;
    state.reconnects += 1;
    try {
      await connect();
    } catch (err) {
      scheduleReconnect(err.message);
    }
  }, delayMs);
}

function showRecording(recording) {
  state.recording = recording;
  el("recording").hidden = !recording;
}

function watchRecording() {
  const events = new DyadScope.SessionSocket(params.get("session") || "", {
    onEvent: (event) => {
      if (event.kind === K.recording_started) showRecording(true);
      else if (event.kind === K.recording_stopped) showRecording(false);
    },
    onReset: () => showRecording(false), // a restarted service records nothing until asked again
  });
  window.sessionSocket = events; // for tests and debugging
  DyadScope.loadCodebook(K).then(() => events.open());
}

function refreshIndicator() {
  const fresh = Date.now() - lastMessageAt < 3000;
  state.receiving = fresh && state.lastStatus !== null && state.lastStatus.video_frames + state.lastStatus.audio_seconds > 0;
  if (state.receiving) lastMediaAt = Date.now();
  else if (state.connected && Date.now() - lastMediaAt > NO_MEDIA_MS) {
    scheduleReconnect("the service receives no media");
    return;
  }
  if (state.receiving) {
    const s = state.lastStatus;
    show("receiving", "receiving");
    el("detail").textContent = `${s.video_frames} frames, ${s.audio_seconds.toFixed(1)} s of audio` +
      (s.faces.length ? `; face: ${s.faces.join(", ")}` : "; no face in view");
  } else if (state.connected) {
    show("connected, waiting for the service to receive", "trouble");
  }
}

async function start(event) {
  if (event) event.preventDefault();
  if (!window.isSecureContext || !navigator.mediaDevices) {
    explain("insecure");
    show("cannot capture: not a secure context", "trouble");
    return;
  }
  try {
    await openDevices();
  } catch (err) {
    state.error = `${err.name}: ${err.message}`;
    explain(DEVICE_PROBLEMS[err.name] || "nodevice");
    show("cannot capture: no camera or microphone", "trouble");
    return;  // the person fixes it and presses Start: retrying alone would only repeat the refusal
  }
  explain(null);
  try {
    await connect();
  } catch (err) {
    state.error = err.message;
    scheduleReconnect(err.message);
  }
}

async function init() {
  if (params.get("role")) el("role").value = params.get("role");
  if (params.get("view")) el("view").value = params.get("view");
  if (params.get("hears")) el("hears").value = params.get("hears");
  el("settings").addEventListener("submit", start);
  for (const id of ["camera", "microphone", "role", "view", "hears"]) {
    el(id).addEventListener("change", () => { if (stream) start(); });  // apply a new choice at once
  }
  if (navigator.mediaDevices) navigator.mediaDevices.addEventListener("devicechange", listDevices);
  else start();  // says at once why this page cannot capture
  // leaving the page hangs up at once, so the service releases its UDP port now, not after its consent checks fail
  window.addEventListener("pagehide", () => { if (pc) pc.close(); });
  setInterval(refreshIndicator, 500);
  watchRecording();
  await listDevices();
  if (params.get("autostart") === "1" && navigator.mediaDevices) start();
}

init();
