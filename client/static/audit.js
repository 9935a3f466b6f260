// The admin's view of the audit trail: GET /api/audit (newest last) and whether the hash chain holds.
"use strict";

(() => {
  const form = document.getElementById("filter");
  const message = document.getElementById("message");
  const verdict = document.getElementById("verdict");
  const body = document.getElementById("entries");

  /** GET a JSON API path with the page's login (cookie) or token; a readable error otherwise. */
  const getJson = async (path) => {
    const reply = await fetch(path, { headers: DyadScope.authHeaders() });
    if (reply.status === 401) throw new Error("log in first (an admin's account)");
    if (reply.status === 403) throw new Error("only an admin may read the audit trail");
    if (!reply.ok) throw new Error(`the service answered ${reply.status}`);
    return reply.json();
  };

  const cell = (text) => {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  };

  const showVerdict = (v) => {
    verdict.className = v.ok ? "ok" : "broken";
    verdict.textContent = v.ok
      ? `the chain holds: ${v.entries} entries, last hash ${v.last_hash.slice(0, 16)}…`
      : `the chain is broken after entry ${v.entries}: ${v.problem}`;
  };

  const show = async () => {
    message.textContent = "";
    const query = new URLSearchParams({ last: form.elements.last.value || "200" });
    if (form.elements.session.value) query.set("session", form.elements.session.value);
    try {
      const [entries, check] = await Promise.all([getJson(`/api/audit?${query}`), getJson("/api/audit/verify")]);
      showVerdict(check);
      body.replaceChildren(
        ...entries.map((e) => {
          const tr = document.createElement("tr");
          const detail = Object.entries(e.detail || {}).map(([k, v]) => `${k}=${v}`).join(" ");
          tr.append(cell(e.seq), cell(e.time), cell(e.user), cell(e.action), cell(e.session ?? ""), cell(detail));
          return tr;
        }),
      );
    } catch (err) {
      message.textContent = err.message;
      verdict.textContent = "";
    }
    form.dataset.shown = String(Number(form.dataset.shown || 0) + 1); // tests wait for each showing
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    show();
  });
  show();
})();
