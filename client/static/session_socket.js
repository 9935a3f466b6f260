// DyadScope's one websocket client of a session's events, shared by the pages.
// It resumes after any disconnect from the last event it saw (nothing lost,
// nothing twice) and starts over from the beginning when the service restarted
// with a new event log. Plain browser script: load it before the page's own.
// Defines window.DyadScope.{token, authHeaders, Backoff, SessionSocket, statusView}.
"use strict";

(() => {
  const DyadScope = (window.DyadScope = window.DyadScope || {});
  // The close codes of the service's websocket endpoint.
  const CLOSE = { normal: 1000, tooBig: 1009, tryAgain: 1013, stale: 4400, unauthorized: 4401, forbidden: 4403, unknown: 4404 };

  /** The access token, from the page's fragment (never sent to a server in a URL). */
  DyadScope.token = () => new URLSearchParams(location.hash.slice(1)).get("token") || "";

  /** The login page, coming back to this page (without its fragment) once logged in. */
  DyadScope.loginUrl = () => `/login?next=${encodeURIComponent(location.pathname + location.search)}`;

  /** The headers that authorise an API call with the page's token (a logged-in browser sends its cookie). */
  DyadScope.authHeaders = () => (DyadScope.token() ? { Authorization: `Bearer ${DyadScope.token()}` } : {});

  /** Growing pauses between retries: firstMs, doubled each time, at most maxMs. */
  class Backoff {
    constructor(firstMs = 1000, maxMs = 10000) {
      this.firstMs = firstMs;
      this.maxMs = maxMs;
      this.delayMs = firstMs;
    }

    next() {
      const delayMs = this.delayMs;
      this.delayMs = Math.min(delayMs * 2, this.maxMs);
      return delayMs;
    }

    reset() {
      this.delayMs = this.firstMs;
    }
  }

  const sameEvent = (a, b) => a.seq === b.seq && a.kind === b.kind && a.t === b.t && a.t_emit === b.t_emit;

  /**
   * A session's events, in order, each once: onEvent(event) for each, onReset(reason)
   * when the service's log is a new one (the page forgets what it showed: the events
   * come again from the first), onStatus({state, text}, socket) on each change of the
   * connection. States: connecting, live, reconnecting, unknown_session,
   * unauthorized, forbidden, closed.
   *
   * Resuming re-reads the last event seen (after = lastSeq - 1): the same event
   * back means the same log; another one, or a 4400 (after beyond the log's end),
   * means the service restarted, and the socket starts over from 0.
   */
  class SessionSocket {
    constructor(sessionId, { onEvent, onReset = () => {}, onStatus = () => {} }) {
      Object.assign(this, { sessionId, onEvent, onReset, onStatus });
      this.lastSeq = 0;
      this.status = { state: "closed", text: "not connected" };
      this._last = null; // the last event seen, to recognise its log by
      this._expect = null; // the event a resumed connection must send first
      this._ws = null;
      this._timer = null;
      this._backoff = new Backoff();
    }

    /** Connect, unless connected or about to reconnect. */
    open() {
      if (!this._ws && !this._timer) this._connect();
    }

    /** Disconnect for good (until open() again); lastSeq is kept for resuming. */
    close() {
      clearTimeout(this._timer);
      this._timer = null;
      this._drop();
      this._setStatus("closed", "not connected");
    }

    _connect() {
      this._timer = null;
      this._expect = this.lastSeq > 0 ? this._last : null;
      const after = this._expect ? this.lastSeq - 1 : 0;
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      // batch=1: each message is an array of events, oldest first (a resume comes in few messages).
      const path = `/ws/sessions/${encodeURIComponent(this.sessionId)}?after=${after}&batch=1`;
      const ws = (this._ws = new WebSocket(`${scheme}://${location.host}${path}`));
      ws.onopen = () => {
        // The token goes as the first message: never in a URL a proxy could log.
        if (DyadScope.token()) ws.send(JSON.stringify({ type: "auth", token: DyadScope.token() }));
        this._setStatus("live", "live");
      };
      ws.onmessage = (message) => {
        if (ws !== this._ws) return;
        for (const event of JSON.parse(message.data)) {
          if (ws !== this._ws) return; // a new log: the rest of this batch belongs to the old one
          this._receive(event);
        }
      };
      ws.onclose = (close) => {
        if (ws !== this._ws) return; // one we dropped ourselves
        this._ws = null;
        this._closed(close);
      };
      this._setStatus("connecting", "connecting…");
    }

    _receive(event) {
      this._backoff.reset(); // events flow: the next failure starts with a short pause
      const expected = this._expect;
      this._expect = null;
      if (expected && event.seq === expected.seq) {
        if (!sameEvent(event, expected)) this._startOver("the service restarted with a new event log");
        return; // the overlap: seen already
      }
      if (event.seq <= this.lastSeq) return;
      this.lastSeq = event.seq;
      this._last = { seq: event.seq, kind: event.kind, t: event.t, t_emit: event.t_emit };
      this.onEvent(event);
    }

    _startOver(reason) {
      this.lastSeq = 0;
      this._last = null;
      this._drop();
      this.onReset(reason);
      this._connect(); // at once: the new log's first events are waiting
    }

    _closed(close) {
      const reason = close.reason;
      if (close.code === CLOSE.unauthorized) return this._setStatus("unauthorized", reason || "access token needed");
      if (close.code === CLOSE.forbidden) return this._setStatus("forbidden", reason || "connection refused");
      if (close.code === CLOSE.stale && this.lastSeq > 0) return this._startOver(reason);
      const delayMs = this._backoff.next();
      const retry = `retrying in ${Math.round(delayMs / 1000)} s`;
      if (close.code === CLOSE.unknown) this._setStatus("unknown_session", `no session ${this.sessionId}; ${retry}`);
      else if (close.code === CLOSE.tooBig) this._setStatus("reconnecting", `message too big; ${retry}`);
      else if (close.code === CLOSE.tryAgain) this._setStatus("reconnecting", `fell behind; ${retry}`);
      else this._setStatus("reconnecting", `reconnecting… (${retry})`);
      this._timer = setTimeout(() => this._connect(), delayMs);
    }

    _drop() {
      const ws = this._ws;
      this._ws = null;
      if (ws) ws.close(CLOSE.normal);
    }

    _setStatus(state, text) {
      this.status = { state, text };
      this.onStatus(this.status, this);
    }
  }

  const STATE_CLASS = { live: "live", connecting: "connecting", reconnecting: "connecting" };

  /**
   * An onStatus for SessionSocket that shows the connection in ``element`` and,
   * when the token is missing or wrong, asks for one right after it.
   */
  DyadScope.statusView = (element) => {
    const form = document.createElement("form");
    form.className = "token-form";
    form.innerHTML = '<input type="password" aria-label="access token" placeholder="access token" required>' +
      '<button>Connect</button> or <a class="login-link">log in</a>';
    form.querySelector("a").href = DyadScope.loginUrl();
    form.hidden = true;
    element.after(form);
    let socket = null;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const fragment = new URLSearchParams(location.hash.slice(1));
      fragment.set("token", form.elements[0].value);
      history.replaceState(null, "", `#${fragment}`); // no history entry holding the token
      form.hidden = true;
      socket.open();
    });
    return (status, source) => {
      socket = source;
      element.className = `state ${STATE_CLASS[status.state] || "lost"}`;
      element.textContent = status.text;
      form.hidden = status.state !== "unauthorized";
    };
  };

  Object.assign(DyadScope, { Backoff, SessionSocket });
})();
