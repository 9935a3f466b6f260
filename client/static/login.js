// The login page: POST /api/login, then back to the page that sent us here.
"use strict";

(() => {
  const form = document.getElementById("login");
  const message = document.getElementById("message");

  /** Where to go once logged in: a path on this site only (never another site's URL). */
  const next = () => {
    const wanted = new URLSearchParams(location.search).get("next") || "/";
    return wanted.startsWith("/") && !wanted.startsWith("//") ? wanted : "/";
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    message.textContent = "";
    const body = { name: form.elements.name.value, password: form.elements.password.value };
    try {
      const reply = await fetch("/api/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (reply.ok) {
        location.assign(next());
        return;
      }
      const detail = (await reply.json().catch(() => ({}))).detail;
      message.textContent = typeof detail === "string" ? detail : `login failed (${reply.status})`;
    } catch (err) {
      message.textContent = `the service cannot be reached (${err.message})`;
    }
    form.elements.password.value = "";
  });
  form.dataset.ready = "1";  // the handler is in place (tests wait for it)
})();
