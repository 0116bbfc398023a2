// The position picker (hot-desking) on the handler's desktop: the positions of the handler's site
// and who holds each (GET /api/me/positions), "Sign in here" (POST /api/me/position) and "Leave
// position" (DELETE /api/me/position). Which position the PBX has them at arrives with the state
// ("me" on the socket, its position); the list is read again then, and after each choice.
// A handler with a fixed phone gets no positions: the picker stays hidden.
import { api, el } from "/static/common.js";

const $ = (id) => document.getElementById(id);

function show(node, visible) { node.classList.toggle("hidden", !visible); }
function say(node, text) { node.textContent = text; show(node, Boolean(text)); }

export class PositionPicker {
  constructor(token) {
    this.token = token; // () => the signed-in handler's token
    this.at = undefined; // the position the PBX has them at, as the last "me" said (undefined: not told yet)
    this.loads = 0;
    $("btn-take-position").addEventListener("click", () => this.take());
    $("btn-leave-position").addEventListener("click", () => this.leave());
  }

  // A "me" view (GET /api/me, or the socket's): where the PBX has them now.
  shown(view) {
    const at = view.position || null;
    $("position-now").textContent = at || "none";
    const moved = at !== this.at;
    this.at = at;
    if (moved) this.load();
  }

  async load() {
    const ticket = ++this.loads; // several reads may cross: only the newest is shown
    let list;
    try {
      list = await api(this.token(), "/api/me/positions");
    } catch (error) {
      say($("position-error"), `Cannot read the positions: ${error.message}`);
      return;
    }
    if (ticket !== this.loads) return;
    show($("position-bar"), list.positions.length > 0);
    const mine = list.mine;
    const pick = $("position-pick");
    pick.replaceChildren(...list.positions.map((p) => {
      const taken = p.holder && p.holder !== this.handlerId();
      return el("option", { value: p.id, text: taken ? `${p.label} (taken by ${p.holder})` : p.label,
        ...(taken ? { disabled: "" } : {}), ...(p.id === mine ? { selected: "" } : {}) });
    }));
    $("btn-take-position").disabled = Boolean(mine);
    $("btn-leave-position").disabled = !mine;
    pick.disabled = Boolean(mine);
  }

  handlerId() { return document.body.dataset.handlerId || ""; }

  async take() {
    say($("position-error"), "");
    try {
      await api(this.token(), "/api/me/position", { method: "POST", body: JSON.stringify({ position: $("position-pick").value }) });
    } catch (error) {
      say($("position-error"), `Could not sign in at that position: ${error.message}`);
    }
    this.load();
  }

  async leave() {
    say($("position-error"), "");
    try {
      await api(this.token(), "/api/me/position", { method: "DELETE" });
    } catch (error) {
      say($("position-error"), `Could not leave the position: ${error.message}`);
    }
    this.load();
  }
}
