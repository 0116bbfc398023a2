// The call-back card on the handler's desktop: an abandoned 999 caller offered to this handler
// (a "callback" message on /ws/desktop), "Call back now" (POST .../start), the outcome form
// (POST .../outcome) and the card's end (pop.closed for "callback:<task id>").
import { api, clock, el, when } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const CLOSED = {
  "callback-closed": "outcome saved",
  "callback-linked": "the caller called again and is being dealt with",
  "callback-withdrawn": "passed to another handler (you went not ready, logged out or your desktop lost its connection)",
};

function show(node, visible) { node.classList.toggle("hidden", !visible); }
function say(node, text) { node.textContent = text; show(node, Boolean(text)); }
function clockTime(epoch) { return new Date(epoch * 1000).toLocaleTimeString("en-GB"); }

export class CallbackCard {
  constructor(token, announce = () => {}) {
    this.token = token; // () => the signed-in handler's token
    this.announce = announce; // (text) => said once to a screen reader: the card is no live region (its clock ticks)
    this.task = null; // the newest "callback" message for the card on show
    this.busy = false; // the handler's phone rings for a call: no call-back now (it rings that phone first)
    // One grading vocabulary on the page: the call outcome form's.
    for (const option of $("grading").options) if (option.value) $("cb-grading").append(option.cloneNode(true));
    $("cb-start").addEventListener("click", () => this.start());
    $("cb-outcome").addEventListener("submit", (event) => { event.preventDefault(); this.save(); });
  }

  // A new offer, or the same task as it changed (started, the PBX could not ring the phone...).
  offer(message) {
    const fresh = !this.task || this.task.task_id !== message.task_id;
    this.task = message;
    const card = $("callback");
    card.dataset.taskId = message.task_id;
    card.dataset.status = message.status;
    $("cb-number").textContent = message.number || "withheld";
    $("cb-when").textContent = when(message.abandoned_at);
    $("cb-waited").textContent = clock(message.waited_seconds);
    $("cb-queue").textContent = message.queue;
    show($("cb-escalated"), message.escalated);
    // A number the PBX cannot dial (withheld, "anonymous"...): no "Call back now", the reason,
    // and the outcome form at once for what the handler did instead.
    const undialable = Boolean(message.cannot_dial);
    say($("cb-problem"), undialable
      ? `This number cannot be dialled (it ${message.cannot_dial}). Follow up by other means, then record the outcome.`
      : message.problem ? `The call-back did not start: ${message.problem}. Try again when you can.` : "");
    const calling = message.status === "calling";
    const phase = calling ? "Calling back" : undialable ? "Cannot be dialled" : "To call back";
    // Said once: a new offer, or a new phase (a problem is said by its own role="alert").
    if (fresh || phase !== $("cb-phase").textContent) {
      this.announce(fresh ? `Call-back to make: an abandoned 999 call from ${message.number || "a withheld number"}, hung up at ${clockTime(message.abandoned_at)}.`
        : `Call-back: ${phase}.`);
    }
    $("cb-phase").textContent = phase;
    show($("cb-start"), !undialable);
    this.buttons();
    show($("cb-outcome"), calling || undialable);
    if (fresh) { $("cb-outcome").reset(); say($("cb-error"), ""); $("cb-save").disabled = false; }
    // "Call back now" pressed from the keyboard and now disabled: on to the outcome's first field.
    if (calling && [$("cb-start"), document.body].includes(document.activeElement)) $("cb-contact").focus();
    $("cb-history").replaceChildren(...message.history.map((entry) => {
      const [at, ...what] = entry.split(" ");
      return el("li", {}, el("time", { text: clockTime(Number(at)) }), ` ${what.join(" ")}`);
    }));
    say($("cb-note"), "");
    show(card, true);
    this.tick();
  }

  // "Call back now" only when the call-back is to start and the handler's phone is free.
  buttons() {
    const task = this.task;
    const calling = Boolean(task) && task.status === "calling";
    const undialable = Boolean(task) && Boolean(task.cannot_dial);
    $("cb-start").disabled = !task || calling || undialable || this.busy;
    show($("cb-hint"), !calling && !undialable && !this.busy);
    show($("cb-busy"), Boolean(task) && !calling && !undialable && this.busy);
  }

  phoneRinging(busy) {
    this.busy = busy;
    if (this.task) this.buttons();
  }

  // True when the close was for a call-back (the caller's pop logic is not concerned).
  closed(message) {
    if (!message.call_id.startsWith("callback:")) return false;
    if (this.task && `callback:${this.task.task_id}` === message.call_id) {
      const note = `Call-back to ${this.task.number} closed: ${CLOSED[message.reason] || message.reason}.`;
      this.end(note);
      this.announce(note);
    }
    return true;
  }

  // A snapshot replaces what the desktop shows: a card it does not list has gone meanwhile.
  keepOnly(callIds) {
    if (this.task && !callIds.includes(`callback:${this.task.task_id}`)) this.end("");
  }

  end(note) {
    this.task = null;
    show($("callback"), false);
    delete $("callback").dataset.taskId;
    say($("cb-note"), note);
  }

  tick() {
    if (this.task) $("cb-ago").textContent = clock(Date.now() / 1000 - this.task.abandoned_at);
  }

  async start() {
    const task = this.task;
    if (!task || this.busy) return;
    say($("cb-problem"), "");
    $("cb-start").disabled = true;
    try {
      await api(this.token(), `/api/callbacks/${encodeURIComponent(task.task_id)}/start`, { method: "POST" });
      if (this.task === task) this.offer({ ...task, status: "calling", problem: "" }); // the server's update follows
    } catch (error) {
      if (this.task !== task) return;
      say($("cb-problem"), `Could not start the call-back: ${error.message}`);
      this.buttons();
    }
  }

  async save() {
    const task = this.task;
    if (!task) return;
    say($("cb-error"), "");
    if (!$("cb-contact").value) { say($("cb-error"), "Choose a result."); return; }
    const body = { contact: $("cb-contact").value, notes: $("cb-notes").value };
    if ($("cb-grading").value) body.grading = $("cb-grading").value;
    $("cb-save").disabled = true;
    try {
      await api(this.token(), `/api/callbacks/${encodeURIComponent(task.task_id)}/outcome`, { method: "POST", body: JSON.stringify(body) });
      if (this.task === task) this.end(`Call-back to ${task.number} closed: ${CLOSED["callback-closed"]}.`);
    } catch (error) {
      say($("cb-error"), `Refused: ${error.message}`);
      $("cb-save").disabled = false;
    }
  }
}
