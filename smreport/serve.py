"""`--serve`: a local preview server on 127.0.0.1 with live reload.

HTML pages are served with a small reload script added on the fly (never
written into the built site), and with the page's Content-Security-Policy
relaxed to allow that one script. The script listens to server-sent events:
after each successful rebuild the page reloads; while the content is broken,
it shows an overlay listing the problems.
"""

from __future__ import annotations

import errno
import http.server
import json
import re
import threading
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlsplit

PREFIX = "/__smreport__/"
RELOAD_JS = """\
(function () {
  var overlay = null;
  function show(problems) {
    if (!overlay) {
      overlay = document.createElement("div");
      overlay.id = "smreport-problems";
      overlay.setAttribute("role", "alert");
      overlay.style.cssText = "position:fixed;inset:auto 0 0 0;max-height:60vh;overflow:auto;" +
        "background:#fff;border-top:4px solid #b10e1e;padding:1rem;font:14px/1.4 monospace;" +
        "z-index:2147483647;box-shadow:0 -2px 8px rgba(0,0,0,.3)";
      document.body.appendChild(overlay);
    }
    overlay.textContent = "";
    var title = document.createElement("strong");
    title.textContent = "smreport: the content has problems; this is the last good site.";
    overlay.appendChild(title);
    var list = document.createElement("ul");
    problems.forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
    overlay.appendChild(list);
  }
  var source = new EventSource("/__smreport__/events");
  var version = null;
  source.addEventListener("state", function (event) {
    var state = JSON.parse(event.data);
    if (version !== null && state.version !== version && !state.problems.length) {
      location.reload();
      return;
    }
    version = state.version;
    if (state.problems.length) { show(state.problems); }
    else if (overlay) { overlay.remove(); overlay = null; }
  });
})();
"""
# The names this server answers to. A page elsewhere that points its own host name at
# 127.0.0.1 (DNS rebinding) could otherwise read the briefing through the browser.
_LOCAL_HOST = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?\Z", re.IGNORECASE)
_CSP = re.compile(rb'(<meta http-equiv="Content-Security-Policy" content="[^"]*?)'
                  rb"script-src 'none'")


class LiveState:
    """The build state that open pages follow: a version number and the current problems."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.version = 0
        self.problems: list[str] = []
        self.closed = False

    def publish(self, problems: list[str]) -> None:
        """Record a rebuild: a good one bumps the version, a bad one lists problems."""
        with self.condition:
            if not problems:
                self.version += 1
            self.problems = list(problems)
            self.condition.notify_all()

    def close(self) -> None:
        with self.condition:
            self.closed = True
            self.condition.notify_all()

    def snapshot(self) -> tuple[int, list[str]]:
        with self.condition:
            return self.version, list(self.problems)


class PreviewHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the output folder, adds the reload script to HTML, streams build events."""

    state: LiveState

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the watcher prints one line per rebuild; requests would drown it

    def refused(self) -> bool:
        """Answer, and True, for a request this server does not serve: one that names
        another host, or whose path holds a NUL (which the file functions reject)."""
        host = self.headers.get("Host")
        if host is not None and not _LOCAL_HOST.match(host.strip()):
            self.send_error(403, "smreport's preview answers only at 127.0.0.1 or localhost")
            return True
        if "\x00" in unquote(urlsplit(self.path).path):
            self.send_error(400, "a NUL in the path")
            return True
        return False

    def do_HEAD(self) -> None:  # noqa: N802 - the name http.server expects
        if not self.refused():
            super().do_HEAD()

    def do_GET(self) -> None:  # noqa: N802 - the name http.server expects
        if self.refused():
            return
        path = urlsplit(self.path).path
        if path == PREFIX + "reload.js":
            self.send_bytes(RELOAD_JS.encode(), "text/javascript; charset=utf-8")
        elif path == PREFIX + "events":
            self.stream_events()
        elif path == "/favicon.ico" and not (Path(self.directory) / "favicon.ico").is_file():
            self.send_response(204)  # browsers ask for it; the site does not need one
            self.end_headers()
        elif self.html_file(path) is not None:
            self.send_page(self.html_file(path))  # type: ignore[arg-type]
        else:
            super().do_GET()

    def html_file(self, url_path: str) -> Path | None:
        relative = unquote(url_path).lstrip("/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        if not relative.endswith(".html"):
            return None
        root = Path(self.directory).resolve()
        target = (root / relative).resolve()
        if root not in target.parents or not target.is_file():
            return None
        return target

    def send_page(self, file: Path) -> None:
        try:
            html = file.read_bytes()
        except OSError:
            self.send_error(404)
            return
        html = _CSP.sub(rb"\1script-src 'self'", html, count=1)
        tag = f'<script src="{PREFIX}reload.js"></script>'.encode()
        html = html.replace(b"</body>", tag + b"\n</body>", 1) if b"</body>" in html \
            else html + tag
        self.send_bytes(html, "text/html; charset=utf-8")

    def send_bytes(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def stream_events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        state = self.state
        seen: tuple[int, list[str]] | None = None
        try:
            while True:
                with state.condition:
                    if state.closed:
                        return
                    current = (state.version, list(state.problems))
                    if current == seen:
                        state.condition.wait(timeout=15)
                        if state.closed:
                            return
                        current = (state.version, list(state.problems))
                if current == seen:
                    self.wfile.write(b": keep-alive\n\n")
                else:
                    payload = json.dumps({"version": current[0], "problems": current[1]})
                    self.wfile.write(f"event: state\ndata: {payload}\n\n".encode())
                    seen = current
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return


class PreviewServer:
    """A threaded HTTP server on 127.0.0.1 for the output folder."""

    def __init__(self, out: Path, port: int, state: LiveState) -> None:
        handler = type("Handler", (PreviewHandler,), {"state": state})
        factory = partial(handler, directory=str(out.absolute()))
        try:
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), factory)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} on 127.0.0.1 is already in use; stop the other "
                                "server or choose another with --port N") from None
            raise
        self.server.daemon_threads = True
        self.state = state
        self.thread = threading.Thread(target=self.server.serve_forever, name="smreport-serve",
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{host_text}:{port}/"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.state.close()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class PortInUse(Exception):
    """The preview port is taken."""
