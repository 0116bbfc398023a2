// The handler's desktop: sign in, state bar (drives the PBX through POST /api/me/state; the state
// itself comes over /ws/desktop as "me", on connect and on every change: nothing polls), the pop
// for the ringing call from the same socket, and the outcome form sent back over it; call-backs of
// abandoned 999 calls are a card of their own (callback_card.js), the position picker (hot-desking)
// another (position_picker.js).
import { CallbackCard } from "/static/callback_card.js";
import { buttonsFor, phoneRinging, stateAfter, waitLevel } from "/static/desktop_state.js";
import { PopPlace } from "/static/pop_place.js";
import { PositionPicker } from "/static/position_picker.js";
import { api, authMessage, clock, el, forgetToken, ReconnectingSocket, storedToken, storeToken, when, wsUrl } from "/static/common.js";
import { endSession, offerProviderSignIn, sessionOpens } from "/static/sign_in.js";

const KEY = "intake.desktop.token";
const $ = (id) => document.getElementById(id);
const CLOSED = { "answered-elsewhere": "answered by someone else", abandoned: "the caller hung up", "rang-out": "your phone stopped ringing", ended: "the call ended", left: "the caller left the queue", vanished: "the call ended while the PBX link was down" };

let token = ""; // "": signed in through the identity provider (the session cookie)
let me = null;
let socket = null;
let lastSeq = 0;
let current = null; // { pop, receivedAt, answeredAt, ended }
const callbacks = new CallbackCard(() => token, (text) => announce(text));
const positions = new PositionPicker(() => token);
const place = new PopPlace($("pop-place"), { announce: (text) => announce(text) }); // the caller's location and incidents near it

function show(node, visible) { node.classList.toggle("hidden", !visible); }
function say(node, text) { node.textContent = text; show(node, Boolean(text)); }

// Screen readers hear an arrival or a change once, from these two regions: nothing that ticks
// is inside a live region. Emptied first so the same words twice are still read twice.
function announce(text, { urgent = false } = {}) {
  const region = $(urgent ? "announce" : "announce-polite");
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}

// --- signing in -------------------------------------------------------------------------------

async function signIn(candidate) {
  try {
    me = await api(candidate, "/api/me");
  } catch (error) {
    say($("signin-error"), error.status === 401 || error.status === 403
      ? "That token was not accepted: use your own handler token." : `Cannot sign in: ${error.message}`);
    return;
  }
  token = candidate;
  if (token) storeToken(KEY, token);
  say($("signin-error"), "");
  show($("signin"), false);
  show($("desk"), true);
  show($("sign-out"), true);
  $("who").textContent = `${me.name} (${me.handler_id})`;
  document.body.dataset.handlerId = me.handler_id;
  renderState(me);
  place.useTiles(me.map_tiles);
  socket = new ReconnectingSocket(() => wsUrl(`/ws/desktop?last_seq=${lastSeq}`), {
    signIn: () => authMessage(token),
    onMessage: receive,
    onStatus: (up, why) => {
      const badge = $("connection");
      badge.textContent = up ? "Connected" : `Disconnected – ${why}`;
      badge.className = `status ${up ? "up" : "down"}`;
    },
    onRefused: signOut,
  });
  socket.start();
}

function signOut() {
  if (!token && me) { endSession("/desktop"); return; }
  forgetToken(KEY);
  location.reload();
}

// --- state bar ----------------------------------------------------------------------------------

const STATE_WORDS = { "logged-out": "Logged out", ready: "Ready", ringing: "Ringing", "on-call": "On call", "wrap-up": "Wrap-up", "not-ready": "Not ready" };

let stateSaid = "";

function renderState(view) {
  const state = $("state");
  state.textContent = STATE_WORDS[view.state] || view.state;
  state.dataset.state = view.state;
  $("state-reason").textContent = view.state === "not-ready" && view.reason ? `(${view.reason})` : "";
  const after = stateAfter(view);
  say($("state-after"), after);
  // intake paused them (routing.pause_after_ring_no_answer): say why, and how to come back.
  const rangOut = view.state === "not-ready" && Boolean(view.ring_out_reason) && view.reason === view.ring_out_reason;
  say($("state-note"), rangOut
    ? "You were taken out of the queues because your phone rang for a call and was not answered. Press Ready when you can take calls."
    : "");
  // Buttons that show the state: the one for the state they are in is not offered, and on a
  // call Not ready says it means after this call (desktop_state.js has the table).
  const wanted = document.querySelectorAll("[data-want]");
  const focused = document.activeElement;
  buttonsFor(view).forEach(({ label, enabled }, i) => {
    wanted[i].textContent = label;
    wanted[i].disabled = !enabled;
  });
  // The button just pressed may no longer be offered (Ready, once ready): the focus stays in the
  // state bar, on the state it brought, rather than falling back to the top of the page.
  if (focused && focused.disabled && focused.dataset.want) $("state-now").focus();
  callbacks.phoneRinging(phoneRinging(view.state));
  const said = [STATE_WORDS[view.state] || view.state, $("state-reason").textContent, after].filter(Boolean).join(" ");
  if (stateSaid && said !== stateSaid) announce(`Your state: ${said}`);
  stateSaid = said;
  positions.shown(view);
}

async function askState(want) {
  const body = { state: want };
  if (want === "not-ready") body.reason = $("reason").value;
  say($("state-error"), "");
  try {
    await api(token, "/api/me/state", { method: "POST", body: JSON.stringify(body) });
  } catch (error) {
    say($("state-error"), `Could not change state: ${error.message}`);
  }
  // The new state arrives over the socket once the PBX has made it so.
}

// --- the stream -------------------------------------------------------------------------------

function receive(message) {
  if (message.seq && message.type !== "snapshot") lastSeq = Math.max(lastSeq, message.seq);
  switch (message.type) {
    case "pop": return showPop(message);
    case "pop.answered": return answered(message);
    case "pop.place": return place.update(message);
    case "pop.closed": return callbacks.closed(message) || closed(message);
    case "callback": return callbacks.offer(message);
    case "me": return renderState(message);
    case "snapshot":
      lastSeq = message.seq;
      callbacks.keepOnly(message.pops.map((pop) => pop.call_id));
      for (const pop of message.pops) receive({ ...pop, seq: 0 });
      return;
    case "outcome.saved": return saved(message);
    case "error": return refused(message);
    case "ping": socket.send({ type: "pong" }); return;
    default: return;
  }
}

function showPop(pop) {
  current = { pop, receivedAt: performance.now(), answeredAt: null, ended: false };
  const box = $("pop");
  box.className = `panel pop line-${pop.line}`;
  box.dataset.callId = pop.call_id;
  const badge = $("pop-line");
  badge.textContent = pop.line;
  badge.className = `line-badge line-${pop.line}`;
  $("pop-queue").textContent = pop.queue;
  $("pop-number").textContent = pop.caller.number || "withheld";
  $("pop-name").textContent = pop.caller.name;
  $("pop-phase").textContent = "Ringing";
  const repeatMarker = renderFlags(pop);
  renderHistory(pop, repeatMarker);
  place.show(pop, current.receivedAt);
  resetOutcome();
  show($("outcome"), false);
  show(box, true);
  show($("idle"), false);
  tick();
  if (!pop.seq) return; // replayed from a snapshot on reconnecting: already announced
  const flags = [...$("pop-flags").children].map((li) => li.textContent);
  const markers = [...$("pop-markers").children].map((li) => li.textContent);
  announce([`${pop.line} call ringing from ${pop.caller.number || "a withheld number"}.`, ...flags, ...markers,
    place.said(), `Waited ${clock(pop.waited_seconds)}.`].filter(Boolean).join(" "), { urgent: true });
}

// What the server flagged about this call, above everything else on the pop. A "repeat caller"
// marker says what the flag says: its detail joins the flag, and it is not listed again below.
// Returns that marker (or null) for the markers' list to leave out.
function renderFlags(pop) {
  const flags = $("pop-flags");
  flags.replaceChildren();
  if (pop.flags.includes("silent-call")) {
    flags.append(el("li", { class: "silent" }, el("strong", { text: "Silent call" }), " – no speech: the caller pressed 55"));
  }
  const marker = pop.history ? pop.history.markers.find((m) => m.kind === "repeat caller") || null : null;
  if (pop.repeat || marker) {
    const count = pop.repeat ? ` – ${pop.repeat.calls} calls in ${lastPeriod(pop.repeat.window_seconds)}` : "";
    flags.append(el("li", { class: "repeat" }, el("strong", { text: "Repeat caller" }), count,
      ...(marker ? [el("span", { class: "flag-marker", text: ` – marker: ${marker.detail}` })] : [])));
  }
  show(flags, flags.children.length > 0);
  return marker;
}

function lastPeriod(seconds) {
  if (seconds === 3600) return "the last hour";
  if (seconds % 3600 === 0) return `the last ${seconds / 3600} hours`;
  if (seconds % 60 === 0) return `the last ${seconds / 60} minutes`;
  return `the last ${seconds} seconds`;
}

function renderHistory(pop, shownAsFlag) {
  const markers = $("pop-markers");
  markers.replaceChildren();
  const history = pop.history;
  for (const marker of history ? history.markers : []) {
    if (marker === shownAsFlag) continue;
    markers.append(el("li", {}, el("strong", { text: marker.kind }), ` – ${marker.detail}`));
  }
  $("pop-counts").textContent = history ? `Finished calls from this number: ${history.count_24h} in the last 24 h, ${history.count_30d} in 30 days` : "";
  $("pop-history-note").textContent = { withheld: "Number withheld: no history.", unavailable: "History unavailable just now." }[pop.history_status] || "";
  const table = $("pop-recent");
  const rows = table.querySelector("tbody");
  rows.replaceChildren();
  for (const contact of history ? history.recent : []) {
    rows.append(contact.callback ? calledBackRow(contact) : el("tr", {},
      el("td", { text: when(contact.at) }), el("td", { text: contact.line }), el("td", { text: contact.disposition }),
      el("td", { text: clock(contact.waited_seconds) }), el("td", { text: contact.grading || "–" }),
      el("td", { text: contact.notes_excerpt })));
  }
  show(table, rows.children.length > 0);
}

const CALLED_BACK = { reached: "reached", "no-answer": "no answer", voicemail: "voicemail, message left", unobtainable: "number unobtainable" };

// Our call-back to the number (not a call from it): one sentence across the row, set apart.
function calledBackRow(contact) {
  const { handler_name: who, contact: got } = contact.callback;
  const graded = contact.grading ? `, graded ${contact.grading}` : "";
  const notes = contact.notes_excerpt ? `: ${contact.notes_excerpt}` : "";
  return el("tr", { class: "called-back", "data-task": contact.callback.task_id },
    el("td", { text: when(contact.at) }), el("td", { text: contact.line }),
    el("td", { colspan: "4" }, el("strong", { text: `Called back by ${who}` }),
      ` ${clock(contact.waited_seconds)} after they hung up — ${CALLED_BACK[got] || got}${graded}${notes}`));
}

function answered(message) {
  if (!current || current.pop.call_id !== message.call_id) return;
  current.answeredAt = message.answered_at;
  $("pop-phase").textContent = "On call";
  show($("outcome"), true);
  todo();
  $("grading").focus();
  announce("Answered: on call. The outcome form is open, grading first.");
}

function closed(message) {
  if (!current || current.pop.call_id !== message.call_id) return;
  if (current.answeredAt !== null) {
    current.ended = true; // the form stays until the outcome is saved
    $("pop-phase").textContent = "Call ended – file the outcome";
    todo();
    announce("The call ended. File the outcome before your next call.");
    return;
  }
  endPop(`Last pop closed: ${CLOSED[message.reason] || message.reason}.`);
  announce(`Pop closed: ${CLOSED[message.reason] || message.reason}.`);
}

function endPop(note) {
  current = null;
  place.clear();
  show($("pop"), false);
  show($("outcome"), false);
  $("idle").textContent = `No call ringing. ${note}`;
  show($("idle"), true);
}

function tick() {
  if (!current) return;
  const { pop } = current;
  const waited = current.answeredAt !== null
    ? current.answeredAt - pop.queued_at
    : pop.waited_seconds + (performance.now() - current.receivedAt) / 1000;
  const shown = $("pop-waited");
  shown.textContent = clock(waited);
  const { level, words } = waitLevel(waited, pop.target_seconds);
  shown.className = `wait ${level}`;
  shown.dataset.level = level;
  $("pop-target").textContent = pop.target_seconds ? `of ${clock(pop.target_seconds)} target${words ? ` – ${words}` : ""}` : "";
  place.tick();
}

// --- the outcome form -------------------------------------------------------------------------

function resetOutcome() {
  $("outcome").reset();
  say($("outcome-error"), "");
  say($("outcome-saved"), "");
  $("save-outcome").disabled = false;
  $("grading").removeAttribute("aria-invalid");
  todo();
}

// What is still required before the next call, said at the top of the form (and marked on the field).
function todo() {
  const box = $("outcome-todo");
  const saved = $("save-outcome").disabled;
  const graded = Boolean($("grading").value);
  box.dataset.done = String(saved);
  box.textContent = saved ? "Outcome saved: nothing left before your next call."
    : graded ? "Grading chosen: save the outcome before your next call."
      : "Required before your next call: a grading, then save.";
  $("grading").closest("form").querySelector("label[for=grading]").classList.toggle("missing", !graded && !saved);
}

function submitOutcome(event) {
  event.preventDefault();
  say($("outcome-error"), "");
  if (!current) return;
  if (!$("grading").value) {
    say($("outcome-error"), "Choose a grading: it is required before your next call.");
    $("grading").setAttribute("aria-invalid", "true");
    $("grading").focus();
    return;
  }
  const thrive = {};
  for (const field of document.querySelectorAll("[data-thrive]")) thrive[field.dataset.thrive] = field.value;
  const message = { type: "outcome", call_id: current.pop.call_id, grading: $("grading").value, thrive, notes: $("notes").value };
  if (!socket.send(message)) say($("outcome-error"), "Not connected: the outcome was not sent. Try again when the badge says Connected.");
}

function saved(message) {
  if (!current || current.pop.call_id !== message.call_id) return;
  say($("outcome-saved"), "Outcome saved to the caller's history.");
  $("save-outcome").disabled = true;
  todo();
  if (current.ended) setTimeout(() => current && current.pop.call_id === message.call_id && endPop("Outcome saved."), 1500);
}

function refused(message) {
  const text = `Refused: ${message.message}${message.problems && message.problems.length > 1 ? ` (${message.problems.join("; ")})` : ""}`;
  const formCall = current && current.pop.call_id;
  say(message.call_id && message.call_id === formCall ? $("outcome-error") : $("desk-error"), text);
}

// --- wiring -----------------------------------------------------------------------------------

$("signin").addEventListener("submit", (event) => { event.preventDefault(); signIn($("token").value.trim()); });
$("sign-out").addEventListener("click", signOut);
for (const button of document.querySelectorAll("[data-want]")) button.addEventListener("click", () => askState(button.dataset.want));
$("outcome").addEventListener("submit", submitOutcome);
$("grading").addEventListener("change", () => { $("grading").removeAttribute("aria-invalid"); todo(); });
setInterval(() => { tick(); callbacks.tick(); }, 250);
// For diagnostics and the browser tests: send a raw message on this desktop's socket.
window.intakeDesktop = { send: (message) => socket && socket.send(message) };
if (storedToken(KEY)) signIn(storedToken(KEY));
else offerProviderSignIn($("sso"), "/desktop").then(async (offered) => { if (offered && await sessionOpens("/api/me")) signIn(""); });
