// Shared by the pages: the token kept for this browser tab only, authenticated fetch, formats,
// and a WebSocket that reconnects by itself with capped backoff.

export function storedToken(key) { return sessionStorage.getItem(key) || ""; }
export function storeToken(key, token) { sessionStorage.setItem(key, token); }
export function forgetToken(key) { sessionStorage.removeItem(key); }

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function api(token, path, options = {}) {
  // No token: the browser's session cookie (sign_in.js) says who is asking.
  const headers = { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(options.body ? { "Content-Type": "application/json" } : {}) };
  const reply = await fetch(path, { ...options, headers });
  const text = await reply.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!reply.ok) {
    const detail = body && body.detail ? body.detail : `${reply.status} ${reply.statusText}`;
    throw new ApiError(reply.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return body;
}

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// Lines as a control room reads them: 999 first, then the rest by name. (A JSON object's
// number-like keys come out of JavaScript in ascending order, which would put 101 first.)
export function lineOrder(a, b) { return a === "999" ? (b === "999" ? 0 : -1) : b === "999" ? 1 : a.localeCompare(b); }

export function pct(value) { return value === null || value === undefined ? "–" : `${value.toFixed(1)}%`; }

export function when(epoch) {
  return new Date(epoch * 1000).toLocaleString("en-GB", { day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit" });
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// A socket that comes back after a drop: url() is asked afresh each time (the desktop adds
// last_seq). No token ever goes in the URL: the socket signs in by the session cookie, or by
// its first message, signIn() ({type: "auth", token}), sent as soon as it opens.
// onStatus(true|false, why) drives the page's connected/disconnected badge.
export class ReconnectingSocket {
  constructor(url, { signIn, onMessage, onStatus, onRefused }) {
    Object.assign(this, { url, signIn, onMessage, onStatus, onRefused });
    this.delay = 500;
    this.stopped = false;
    this.ws = null;
  }
  start() { this.stopped = false; this.open(); }
  stop() { this.stopped = true; if (this.ws) this.ws.close(1000); }
  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
    return true;
  }
  open() {
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      const hello = this.signIn && this.signIn();
      if (hello) ws.send(JSON.stringify(hello));
      this.delay = 500;
      this.onStatus(true, "");
    };
    ws.onmessage = (event) => this.onMessage(JSON.parse(event.data));
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      if (event.code === 4401) { this.onStatus(false, "token refused"); this.onRefused && this.onRefused(); return; }
      if (event.code === 4429) { this.onStatus(false, "too many refused sign-ins: wait"); return; }
      if (this.stopped) return;
      this.onStatus(false, "reconnecting");
      setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 8000);
    };
  }
}

export function authMessage(token) { return token ? { type: "auth", token } : null; }

export function wsUrl(path) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}
