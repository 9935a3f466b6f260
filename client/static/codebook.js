// The codebook of event kinds as the service serves it (GET /api/kinds): what
// each kind means, its fields and their units. A page names the kinds it
// dispatches on once, with DyadScope.kindNames, and takes labels and units from
// the codebook; a kind the codebook lacks is an error in the console.
// Plain browser script: load it before the page's own.
"use strict";

(() => {
  const DyadScope = (window.DyadScope = window.DyadScope || {});

  /**
   * The kind names a page uses, as a map name -> name: reading a name not in
   * the list throws, so a typo fails at once instead of never matching.
   */
  DyadScope.kindNames = (...names) => new Proxy(Object.freeze(Object.fromEntries(names.map((n) => [n, n]))), {
    get(known, name) {
      if (typeof name === "string" && !(name in known)) throw new Error(`kind ${name} is not in this page's list`);
      return known[name];
    },
  });

  /** The served codebook: {version, kinds: {kind: {meaning, role, emitted_by, fields: {field: {type, unit, meaning, optional}}}}}. */
  class Codebook {
    constructor(kinds) {
      this.kinds = kinds;
      this.missing = new Set(); // kinds seen that the codebook lacks
    }

    /** Whether the codebook describes ``kind``; says so once in the console when not. */
    knows(kind) {
      if (!this.kinds) return false; // not loaded: said once already
      if (kind in this.kinds) return true;
      if (!this.missing.has(kind)) console.error(`codebook: event kind ${kind} is not in /api/kinds`);
      this.missing.add(kind);
      return false;
    }

    /** What ``kind`` means, in words. */
    meaning(kind) {
      return this.knows(kind) ? this.kinds[kind].meaning : kind.replace(/_/g, " ");
    }

    /** The unit of ``kind``'s ``field`` (null: none, or the codebook does not say). */
    unit(kind, field) {
      return (this.knows(kind) && this.kinds[kind].fields[field]?.unit) || null;
    }

    /** Put the units into every element marked data-unit="kind.field" below ``root``. */
    fillUnits(root = document) {
      if (!this.kinds) return;
      for (const el of root.querySelectorAll("[data-unit]")) {
        const [kind, field] = el.dataset.unit.split(".");
        const unit = this.unit(kind, field);
        if (unit) el.textContent = unit;
        else console.error(`codebook: no unit for ${el.dataset.unit}`);
      }
    }
  }

  /**
   * The service's codebook, checked against the kinds a page uses (``kinds``, from
   * kindNames). Without it (an older service, no network) the pages keep their
   * built-in labels; that is an error in the console, not a broken page.
   */
  DyadScope.loadCodebook = async (kinds) => {
    try {
      const reply = await fetch("/api/kinds", { headers: DyadScope.authHeaders() });
      if (!reply.ok) throw new Error(`the service answered ${reply.status}`);
      const book = new Codebook((await reply.json()).kinds);
      Object.values(kinds).forEach((kind) => book.knows(kind));
      return book;
    } catch (err) {
      console.error(`codebook: cannot load /api/kinds (${err.message}); using the page's own labels`);
      return new Codebook(null);
    }
  };
})();
