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

export async function endSession(next) {
  await fetch(`/auth/logout?next=${encodeURIComponent(next)}`, { method: "POST", redirect: "manual" });
  location.assign(next);
}
