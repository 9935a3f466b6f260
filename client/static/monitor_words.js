// The monitor's measures in words a therapist reads at a glance, with the
// numbers behind them on demand. Pure functions of event data: no DOM here.
// Plain browser script: load it before monitor.js.
"use strict";

(() => {
  const DyadScope = (window.DyadScope = window.DyadScope || {});
  const fixed = (value, digits = 0) => (value == null ? "–" : Number(value).toFixed(digits));
  const STALE_S = 30; // a modality with no synchrony value for this long has lost its signal
  const TOGETHER_S = 0.5; // lags below this read as "together"

  /** Who follows whom, from a sync event's lag (positive: therapist follows patient). */
  function following(sync) {
    const lag = sync.lag_s;
    if (Math.abs(lag) < TOGETHER_S) return "together";
    const who = lag > 0 ? "therapist" : "patient";
    return `${who} follows by ${fixed(Math.abs(lag), Math.abs(lag) < 3 ? 1 : 0)} s`;
  }

  /**
   * One modality's synchrony: {text, state, detail}. ``sync`` is its latest
   * sync event data (or null), ``state`` its latest sync_state data (or null),
   * ``age_s`` how long ago (data time) that sync value came.
   */
  DyadScope.syncWords = (sync, state, age_s) => {
    if (!sync || age_s > STALE_S) {
      return { text: "not enough signal", state: "none", detail: "No synchrony value lately: a sensor or camera of one of the two is not giving a usable signal." };
    }
    if (sync.above_chance == null) {
      return {
        text: "not enough signal yet", state: "none",
        detail: "The chance level is still being learnt: each window is compared with the partner's signal from at least 19 other moments of this session, which takes a few minutes.",
      };
    }
    const inSync = state?.state === "in_sync";
    const direction = sync.r < 0 ? ", in opposite directions" : "";
    const text = inSync ? `in sync — ${following(sync)}${direction}` : "apart";
    const detail = `Now: correlation ${fixed(sync.abs_r, 2)}${sync.r < 0 ? " (opposite directions)" : ""} over the last ${fixed(sync.window_s)} s, best at ${fixed(sync.lag_s, 1)} s lag. `
      + `Chance level ${fixed(sync.chance_r, 2)}: 95 % of ${sync.baseline_n} pairings of one person's window with the other's signal at other moments of this session stay below it `
      + `(p = ${fixed(sync.p, 2)}). "In sync" needs the correlation above chance for several seconds; "apart" once it falls back towards chance.`;
    return { text, state: inSync ? "in_sync" : "out_of_sync", detail };
  };

  /** RSA against the person's rest, in words: {value, against, title}. */
  DyadScope.rsaWords = (rsa) => {
    const title = "Respiratory sinus arrhythmia: how much the heart period swings with each breath (peak to trough, ms). "
      + "It reflects vagal, calming regulation of the heart; below rest means less of it, as under stress or effort.";
    const change = rsa.reactivity_p2t_ms;
    let against = "rest not measured yet";
    if (change != null) {
      const size = Math.abs(change);
      against = size < 1 ? "as at rest" : `${fixed(size)} ms ${change < 0 ? "below rest (less vagal calming)" : "above rest (more vagal calming)"}`;
    }
    return { value: fixed(rsa.p2t_mean_ms), against, title };
  };

  /** The patient's face and voice: {status, flag} — flag text only for a dissonant unit. */
  DyadScope.dissonanceWords = (d) => {
    if (d.status !== "judged") {
      return { status: `face and voice: ${d.status}${d.reason ? ` (${d.reason})` : ""}`, flag: null };
    }
    if (!d.dissonant) return { status: "face and voice agree", flag: null };
    const units = d.episode?.units ?? 1;
    const scale = d.scale === "relative" ? "against the patient's own usual face and voice" : "on absolute scales";
    const flag = `patient: ${d.direction} — ${units} speech unit${units === 1 ? "" : "s"}, ${fixed(d.size, 1)}× the threshold, ${scale}`;
    return { status: `face and voice differ: ${d.direction}`, flag };
  };
})();
