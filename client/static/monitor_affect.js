// The monitor's face and voice: per person, face valence and arousal (already
// smoothed per frame by the service, here averaged over 2 s so the line stays
// calm) and vocal arousal per speech unit, over the last five minutes on one
// fixed [-1, 1] scale; and the talk balance (the service's talk_balance event:
// each person's share of speaking time over the last minutes).
// Plain browser script: load it before monitor.js, which hands it the events.
"use strict";

(() => {
  const DyadScope = (window.DyadScope = window.DyadScope || {});
  const TRACE_SECONDS = 300;
  const FACE_BIN_S = 2; // face values are averaged over bins this long
  const SERIES = {
    face_valence: { label: "face valence", dash: [] },
    face_arousal: { label: "face arousal", dash: [8, 6] },
    voice_arousal: { label: "voice arousal", dash: [2, 5] },
  };
  const ROLES = ["patient", "therapist"];

  const fresh = () => Object.fromEntries(ROLES.map((r) => [r, {
    series: Object.fromEntries(Object.keys(SERIES).map((s) => [s, []])),
    bin: null, // the face bin being filled: {start, valence: [sum, n], arousal: [sum, n]}
  }]));

  class AffectView {
    /** ``canvasFor(role)``: the person's face-and-voice canvas; ``balance``: the talk balance element. */
    constructor(canvasFor, balance) {
      this.canvasFor = canvasFor;
      this.balance = balance;
      this.reset();
    }

    reset() {
      this.people = fresh();
      this.shares = null;
      this.talkT = null; // data time of the talk balance shown
      this.balance.textContent = "talk balance: nobody has spoken yet";
      ROLES.forEach((r) => this.draw(r));
    }

    /** Points per role and series, [[t, value], ...] (for tests and debugging). */
    points() {
      return Object.fromEntries(ROLES.map((r) => [r, this.people[r].series]));
    }

    _push(role, name, t, value) {
      const line = this.people[role].series[name];
      line.push([t, value]);
      while (line.length && line[0][0] < t - TRACE_SECONDS) line.shift();
    }

    face(event) {
      const person = this.people[event.role];
      if (!person) return;
      const start = Math.floor(event.t / FACE_BIN_S) * FACE_BIN_S;
      if (person.bin && person.bin.start !== start) this._closeBin(event.role);
      person.bin ||= { start, valence: [0, 0], arousal: [0, 0] };
      for (const name of ["valence", "arousal"]) {
        const value = event.data[name];
        if (value == null) continue;
        person.bin[name][0] += value;
        person.bin[name][1] += 1;
      }
    }

    _closeBin(role) {
      const bin = this.people[role].bin;
      const t = bin.start + FACE_BIN_S / 2;
      if (bin.valence[1]) this._push(role, "face_valence", t, bin.valence[0] / bin.valence[1]);
      if (bin.arousal[1]) this._push(role, "face_arousal", t, bin.arousal[0] / bin.arousal[1]);
      this.people[role].bin = null;
      this.draw(role);
    }

    voice(event) {
      if (!this.people[event.role] || event.data.arousal == null) return;
      this._push(event.role, "voice_arousal", event.t, event.data.arousal);
      this.draw(event.role);
    }

    talk(event) {
      this.shares = event.data.share;
      this.talkT = event.t;
      const minutes = Math.round(event.data.window_s / 60);
      const parts = ROLES.map((r) => `${r} ${Math.round(100 * (this.shares[r] || 0))} %`);
      this.balance.textContent = `talk balance, last ${minutes} min: ${parts.join(" · ")}`;
      for (const role of ROLES) {
        const bar = this.balance.parentElement.querySelector(`.talk-bar [data-role="${role}"]`);
        if (bar) bar.style.flexGrow = String(this.shares[role] || 0);
      }
    }

    draw(role) {
      const canvas = this.canvasFor(role);
      if (!canvas) return;
      const ctx = canvas.getContext("2d");
      const series = this.people[role].series;
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      const y = (v) => canvas.height * (1 - (v + 1) / 2);
      ctx.strokeStyle = "#ecece6";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(0, y(0));
      ctx.lineTo(canvas.width, y(0));
      ctx.stroke();
      const ends = Object.values(series).filter((l) => l.length).map((l) => l[l.length - 1][0]);
      if (!ends.length) return;
      const tEnd = Math.max(...ends);
      const x = (t) => canvas.width * (1 - (tEnd - t) / TRACE_SECONDS);
      ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue(`--${role}`);
      ctx.lineWidth = 2;
      for (const [name, line] of Object.entries(series)) {
        ctx.setLineDash(SERIES[name].dash);
        ctx.beginPath();
        line.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
        ctx.stroke();
      }
      ctx.setLineDash([]);
    }
  }

  DyadScope.AffectView = AffectView;
  DyadScope.AFFECT_SERIES = SERIES;
})();
