// The supervisors' wallboard: the live picture from /ws/supervisor (drawn by wallboard_board.js).
import { authMessage, forgetToken, ReconnectingSocket, storedToken, storeToken, wsUrl } from "/static/common.js";

import { offerProviderSignIn, sessionOpens } from "/static/sign_in.js";
import { KEY } from "/static/supervisor.js";
import { render, tick } from "/static/wallboard_board.js";
const $ = (id) => document.getElementById(id);

function start(token) {
  $("signin").classList.add("hidden");
  $("board").classList.remove("hidden");
  const socket = new ReconnectingSocket(() => wsUrl("/ws/supervisor"), {
    signIn: () => authMessage(token),
    onMessage: (message) => { if (message.type === "metrics") render(message); },
    onStatus: (up, why) => {
      const badge = $("connection");
      badge.textContent = up ? "Live" : `Disconnected – ${why}`;
      badge.className = `status ${up ? "up" : "down"}`;
    },
    onRefused: () => {
      forgetToken(KEY);
      $("board").classList.add("hidden");
      $("signin").classList.remove("hidden");
      const error = $("signin-error");
      error.textContent = "That token was not accepted: a supervisor token is required.";
      error.classList.remove("hidden");
    },
  });
  socket.start();
  setInterval(tick, 1000);
}

$("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  storeToken(KEY, $("token").value.trim());
  start($("token").value.trim());
});
if (storedToken(KEY)) start(storedToken(KEY));
else {
  $("signin").classList.remove("hidden");
  offerProviderSignIn($("sso"), "/wallboard").then(async (offered) => { if (offered && await sessionOpens("/api/queues")) start(""); });
}
