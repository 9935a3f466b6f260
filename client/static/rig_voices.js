// The rig's voices: enrol each person's voice for a shared microphone
// (POST /api/sessions/{id}/speakers/enrol) and show what is enrolled.
// Plain browser script: load it after rig.js (it uses api, log, form, select).
"use strict";

(() => {
  const list = document.getElementById("voices");
  const POLL_S = 3;
  let polling = null;

  function show(state) {
    list.replaceChildren();
    for (const [role, v] of Object.entries(state)) {
      const item = document.createElement("li");
      item.dataset.role = role;
      const seconds = Math.round(v.speech_s);
      item.textContent = `${role}: ${seconds} s of speech enrolled` + (seconds < 10 ? " (10 s or more is better)" : "");
      list.append(item);
    }
    if (!list.children.length) list.append(Object.assign(document.createElement("li"), { textContent: "no voice enrolled" }));
  }

  async function refresh() {
    if (!select.value) return;
    try {
      show(await api("GET", `/api/sessions/${select.value}/speakers`));
    } catch (err) {
      list.replaceChildren(Object.assign(document.createElement("li"), { textContent: err.message }));
    }
  }

  /** Refresh every few seconds until ``seconds`` from now (while a window lies ahead). */
  function pollFor(seconds) {
    clearInterval(polling);
    const until = Date.now() + (seconds + POLL_S) * 1000;
    polling = setInterval(() => (Date.now() > until ? clearInterval(polling) : refresh()), POLL_S * 1000);
  }

  form("enrol", async (f) => {
    const seconds = Number(f.seconds);
    const enrolled = await api("POST", `/api/sessions/${select.value}/speakers/enrol`, { role: f.role, [f.when]: seconds });
    log(`${f.role}'s voice: ${Math.round(enrolled.speech_s)} s enrolled` + (f.when === "duration_s" ? `, listening for ${seconds} s` : ""));
    await refresh();
    if (f.when === "duration_s") pollFor(seconds);
  });
  document.querySelector("#enrol [name=forget]").addEventListener("click", async () => {
    const role = document.querySelector("#enrol [name=role]").value;
    try {
      await api("DELETE", `/api/sessions/${select.value}/speakers/${role}`);
      log(`${role}'s voice forgotten`);
      await refresh();
    } catch (err) {
      log(`error: ${err.message}`);
    }
  });
  select.addEventListener("change", () => { clearInterval(polling); list.replaceChildren(); });
  window.rigVoices = { refresh }; // for tests and debugging
})();
