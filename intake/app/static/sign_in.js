// Sign-in with the force's identity provider, where the server has one (GET /auth/provider
// answers): the "Sign in" link to /auth/login, a quiet check of a session already held, and
// sign-out. The session cookie is HttpOnly: the page never sees it; the browser sends it with
// every request and socket to this server.
import { api } from "/static/common.js";

export async function offerProviderSignIn(link, next) {
  let reply;
  try { reply = await fetch("/auth/provider"); } catch { return false; }
  if (!reply.ok) return false;
  link.href = `/auth/login?next=${encodeURIComponent(next)}`;
  link.classList.remove("hidden");
  return true;
}

// Whether this browser's session opens `path` (then the page goes on without a token).
export async function sessionOpens(path) {
  try { await api("", path); return true; } catch { return false; }
}

// Sign-out is a form POST the browser follows (not a fetch): the server ends the session, then
// sends the browser on to the provider's own sign-out and back (RP-initiated logout), so the
// next sign-in on this PC asks for credentials again. Once: the desktop's socket, refused as the
// session ends, asks again, and a second submit would cancel the first's way to the provider.
let ending = false;
export function endSession(next) {
  if (ending) return;
  ending = true;
  const form = document.createElement("form");
  form.method = "post";
  form.action = `/auth/logout?next=${encodeURIComponent(next)}`;
  form.hidden = true;
  document.body.append(form);
  form.submit();
}
