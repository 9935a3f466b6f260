// The rig's streams: per stream a live trace of the raw signal (last 10 s, from
// stream_preview events), effective rate against nominal, samples, dropouts and
// the quality verdict with its reason; required streams red while missing;
// streams nobody can tell whose they are, assigned from the page.
// Plain browser script, loaded before rig.js (it calls api and log from there at run time).
"use strict";

const RigStreams = (() => {
  const TRACE_S = 10;
  const ROLES = ["patient", "therapist"];
  const MODALITIES = ["ECG", "RSP", "EDA", "Movement", "ACC"];
  const streams = new Map(); // stream name -> {person, type, rate, state, reason, bins, preview}
  let required = []; // "role:modality"
  let unassigned = []; // StreamInfo dicts

  function reset() {
    streams.clear();
    required = [];
    unassigned = [];
    render();
  }

  /** Take the session as GET /api/sessions/{id} describes it. */
  function describe(session) {
    for (const s of session.streams) {
      const known = streams.get(s.name);
      streams.set(s.name, { ...blank(), ...known, person: s.role, type: s.modality, rate: s.nominal_rate });
    }
    required = session.selection?.required || [];
    unassigned = (session.unassigned || []).filter((s) => !streams.has(s.name));
    render();
  }

  function blank() {
    return { state: "good", reason: "", bins: [], preview: null };
  }

  function found(event) {
    const d = event.data;
    const known = streams.get(d.stream);
    streams.set(d.stream, { ...blank(), ...known, person: event.role, type: d.modality, state: "good", reason: "" });
    unassigned = unassigned.filter((s) => s.name !== d.stream);
  }

  function setState(name, state, reason) {
    const known = streams.get(name);
    if (known) Object.assign(known, { state, reason: reason || "" });
  }

  function preview(event) {
    const d = event.data;
    const known = streams.get(d.stream);
    if (!known) return;
    d.lo.forEach((lo, i) => known.bins.push([d.t0 + i * d.dt, lo, d.hi[i]]));
    const since = event.t - TRACE_S;
    while (known.bins.length && known.bins[0][0] < since) known.bins.shift();
    known.preview = d;
    known.rate = d.nominal_rate;
  }

  function draw(canvas, bins) {
    const ctx = canvas.getContext("2d");
    const { width, height } = canvas;
    ctx.clearRect(0, 0, width, height);
    const values = bins.flatMap(([, lo, hi]) => (lo === null ? [] : [lo, hi]));
    if (!values.length) return;
    const low = Math.min(...values), span = Math.max(...values) - low || 1;
    const end = bins[bins.length - 1][0];
    ctx.strokeStyle = getComputedStyle(canvas).color;
    ctx.beginPath();
    for (const [t, lo, hi] of bins) {
      if (lo === null) continue;
      const x = width - ((end - t) / TRACE_S) * width;
      ctx.moveTo(x, height - 1 - ((lo - low) / span) * (height - 2));
      ctx.lineTo(x, height - 1 - ((hi - low) / span) * (height - 2) - 0.5);
    }
    ctx.stroke();
  }

  function rateText(s) {
    const nominal = s.rate ? `${s.rate} Hz` : "irregular";
    const effective = s.preview?.effective_rate;
    return effective == null ? nominal : `${effective.toFixed(1)} / ${nominal}`;
  }

  function streamRow(body, name, s) {
    const row = body.insertRow();
    row.dataset.stream = name;
    const texts = [name, s.person || "–", s.type, rateText(s), s.preview?.samples ?? 0, s.preview?.dropouts ?? 0];
    for (const text of texts) row.insertCell().textContent = text;
    const state = row.insertCell();
    state.textContent = s.reason ? `${s.state}: ${s.reason}` : s.state;
    state.className = s.state === "good" ? "good" : s.state === "lost" ? "lost" : "poor";
    const canvas = Object.assign(document.createElement("canvas"), { width: 200, height: 28, className: "trace" });
    row.insertCell().append(canvas);
    draw(canvas, s.bins);
  }

  function missingRows(body) {
    for (const slot of required) {
      const [role, modality] = slot.split(":");
      const live = [...streams.values()].some((s) => s.person === role && s.type === modality && s.state !== "lost");
      if (live) continue;
      const row = body.insertRow();
      row.className = "missing";
      row.dataset.required = slot;
      row.insertCell().textContent = `${role} ${modality}`;
      const cell = row.insertCell();
      cell.colSpan = 7;
      cell.textContent = "required — missing";
    }
  }

  function unassignedList() {
    const list = document.getElementById("unassigned");
    list.replaceChildren();
    for (const s of unassigned) {
      const item = document.createElement("li");
      item.dataset.stream = s.name;
      const roles = Object.assign(document.createElement("select"), { name: "role", ariaLabel: "person" });
      roles.append(...ROLES.map((r) => new Option(r, r)));
      const modality = Object.assign(document.createElement("select"), { name: "modality", ariaLabel: "modality" });
      modality.append(...MODALITIES.map((m) => new Option(m, m)));
      if (MODALITIES.includes(s.modality)) modality.value = s.modality;
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: "Assign" });
      button.addEventListener("click", () => assign(s.name, roles.value, modality.value));
      const label = `${s.name} (${s.modality || "no type"}, ${s.nominal_rate ? `${s.nominal_rate} Hz` : "irregular"}${s.hostname ? `, ${s.hostname}` : ""}) `;
      item.append(label, roles, " ", modality, " ", button);
      list.append(item);
    }
    document.getElementById("unassigned-section").hidden = !unassigned.length;
  }

  async function assign(stream, role, modality) {
    try {
      await api("POST", `/api/sessions/${select.value}/assignments`, { stream, role, modality });
      log(`${stream} assigned to the ${role}'s ${modality}`);
      unassigned = unassigned.filter((s) => s.name !== stream);
      render();
    } catch (err) {
      log(`error: ${err.message}`);
    }
  }

  let scheduled = false;

  /** Redraw at the next frame (many events a second arrive; one redraw serves them all). */
  function render() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      renderNow();
    });
  }

  function renderNow() {
    const body = document.getElementById("streams");
    body.replaceChildren();
    missingRows(body);
    for (const [name, s] of [...streams.entries()].sort()) streamRow(body, name, s);
    unassignedList();
  }

  return { streams, reset, describe, found, setState, preview, render };
})();
