// Talking to the editor's server. Every URL is relative to the page, whose address carries the
// token (http://127.0.0.1:PORT/TOKEN/), so every request carries it too.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error) message = body.error;
  } catch (_) {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, message);
}

async function request(path, options = {}) {
  const response = await fetch(path, { cache: "no-store", ...options });
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getJson(path) {
  return (await request(path)).json();
}

export async function postJson(path, body) {
  const response = await request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return response.json();
}

export async function postText(path, text) {
  const response = await request(path, {
    method: "POST",
    headers: { "Content-Type": "text/plain; charset=utf-8" },
    body: text,
  });
  return response.json();
}

// A PNG from the server as an object URL, with the facts the server sent along.
export async function image(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await request(path, options);
  const blob = await response.blob();
  return {
    url: URL.createObjectURL(blob),
    time: response.headers.get("X-Privmask-Time"),
    recorded: response.headers.get("X-Privmask-Recorded"),
    hash: response.headers.get("X-Privmask-Content-Hash"),
    skipped: Number(response.headers.get("X-Privmask-Skipped") || 0),
  };
}

export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
