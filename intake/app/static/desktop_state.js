// The desktop's pure rules, as tables: what each state button offers in each state, how the wait
// clock is coloured against the line's target, and what a screen reader is told of a change. No
// DOM here: desktop.js applies them, and the browser tests import them to test them by table.

// Per state: [Ready, Not ready, Log out of queues], each { label, enabled }. A button for the
// state the handler is already in is not offered (pressing it would do nothing); on a call, Not
// ready means "not ready after this call" (the server pauses them now, so no call is offered,
// and keeps them paused when the call's wrap-up ends) and Ready undoes that.
const READY = "Ready", NOT_READY = "Not ready", LOG_OUT = "Log out of queues";
const BUTTONS = {
  "logged-out": [[READY, true], [NOT_READY, true], [LOG_OUT, false]],
  ready: [[READY, false], [NOT_READY, true], [LOG_OUT, true]],
  ringing: [[READY, false], [NOT_READY, true], [LOG_OUT, true]],
  "on-call": [[READY, false], ["Not ready after this call", true], [LOG_OUT, true]],
  "on-call-then-not-ready": [["Ready after this call", true], ["Not ready after this call", true], [LOG_OUT, true]],
  "wrap-up": [["Ready now", true], [NOT_READY, true], [LOG_OUT, true]],
  "not-ready": [[READY, true], [NOT_READY, true], [LOG_OUT, true]],
};

export function buttonsFor(view) {
  const key = view.state === "on-call" && view.not_ready_after_call ? "on-call-then-not-ready" : view.state;
  const row = BUTTONS[key] || BUTTONS.ready;
  return row.map(([label, enabled]) => ({ label, enabled }));
}

// The line a handler's state reads as beside the state word (screen readers are told it too):
// Not ready pressed on a call, on the call and through its wrap-up.
const AFTER = { "on-call": "Not ready after this call", "wrap-up": "Not ready when wrap-up ends" };
export function stateAfter(view) {
  return AFTER[view.state] && view.not_ready_after_call ? `${AFTER[view.state]} (${view.not_ready_after_call})` : "";
}

// A call-back rings the handler's own phone first: not while it rings for a call (the call comes
// first). On a call it may be tried: the PBX's busy answer is shown on the card.
export function phoneRinging(state) { return state === "ringing"; }

// The wait clock against the line's answer target: within it, in its last quarter, past it.
// Words as well as colour: "past target" is read out and seen by the colour-blind.
export const NEAR = 0.75;
export function waitLevel(waited, target) {
  if (!target) return { level: "", words: "" };
  if (waited >= target) return { level: "over", words: "past target" };
  if (waited >= target * NEAR) return { level: "near", words: "near target" };
  return { level: "within", words: "" };
}
