#!/usr/bin/env python3
"""Follow one thread-relay thread over socket.io from Python, every event once, in order.

Needs python-socketio 5 with websocket-client (the `websocket` module); everything else is
the standard library. Debian/Ubuntu: `apt-get install -y python3-socketio python3-websocket`
(add python3-requests for `--transport polling` or `auto`); elsewhere:
`pip install "python-socketio[client]"`.

    python3 examples/python/socketio_client.py --url http://localhost:8000 \\
        --token "$USER_JWT" --thread-id my-thread [--last-seq 41 --epoch 9f3c...]

What it does, as any client of the relay's wire protocol must:

- connects with `auth={"token": ...}`; socket.io reconnects by itself after a drop;
- on every (re)connect sends `thread:join` with its cursor (`lastSeq` and `epoch`), or with
  no cursor the first time unless `--last-seq`/`--epoch` are given (the server then
  replays the whole retained log);
- takes `thread:event`s by seq, not by arrival (python-socketio runs each packet's handler
  in a thread of its own, so they can run out of order): drops a seq it already has (the
  relay sends at least once), holds back one whose predecessor has not come yet, and
  reads a seq still missing after 0.5 s from `GET /threads/:id/messages`;
- on `thread:reset` (its cursor cannot be served: another epoch, trimmed, or ahead of the
  log) reloads the retained log from that route, replaces what it had with it, goes on
  after it (live events up to what it loaded are then duplicates), and joins again from
  the new cursor: a reset in the middle of a replay (the log was replaced while the
  replay read it) ends that replay without going live. An event of another epoch (the
  log was replaced while joined: it restarts at seq 1, with no thread:reset) is handled
  as a reset too;
- acknowledges cumulatively with `thread:ack` (no callback: only a refusal comes back, as
  `relay:error`), at most every `--ack-interval-ms`, and asks for the answer of the last
  ack before it exits.

Output: one JSON object per line on stdout, each with a "kind":

    {"kind": "joined", "threadId", "epoch", "headSeq", "replayed", "reset"?}
    {"kind": "event", "event": {id, threadId, seq, epoch, type, payload, runId?, ts}}
    {"kind": "reset", "threadId", "epoch", "headSeq", "reason", "events": <count>}
        followed by an "event" line per reloaded event (they replace everything before);
        "reason" is the relay's, or "epoch_changed" / "trimmed" when the client saw it
    {"kind": "left", "threadId", "reason"}          (the thread was taken away; exits 1)
    {"kind": "error", "event", "error": {code, message, retryAfterMs?}}
    {"kind": "status", "mode", "reason"?} / {"kind": "session", "expiresAt"}
    {"kind": "user_event", "event": {...}}
    {"kind": "cursor", "threadId", "epoch", "lastSeq"}   (last line: resume from here)

Diagnostics go to stderr. Exit status: 0 after `--exit-after` events (or Ctrl-C), 1 on a
failure (refused connection or join, thread left, token expired, `--timeout-s` reached),
2 on bad arguments, 3 when python-socketio is missing.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

try:
    import socketio
except ImportError:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        "python-socketio is not installed. Debian/Ubuntu: apt-get install -y python3-socketio "
        "python3-websocket; elsewhere: pip install 'python-socketio[client]'\n"
    )
    sys.exit(3)

# Codes after which asking again later may succeed; the others are final for this thread.
RETRYABLE = {"RATE_LIMITED", "RELAY_UNAVAILABLE"}
HISTORY_PAGE = 500
# How long a missing seq may stay missing (reordered, see below) before history is read.
GAP_GRACE_S = 0.5


class Failure(Exception):
    """Ends the run with exit status 1."""


class ThreadFollower:
    """
    python-socketio 5 runs the handler of each incoming packet in a thread of its own
    (python-engineio's `run_async`), so handlers may run concurrently and out of wire order:
    an event can be handled before the one sent just before it, or before the join's answer.
    The handlers here only queue what arrived; the main thread handles the queue, and takes
    events by seq (holding back those whose predecessor has not come yet) rather than by
    arrival.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.thread_id: str = args.thread_id
        self.base_url: str = args.url.rstrip("/")
        # The cursor: everything up to last_seq of epoch has been printed. "Anchored" once
        # last_seq is known to be a position in the log (given, answered by a join or reloaded).
        self.epoch: str | None = args.epoch
        self.last_seq: int = args.last_seq or 0
        self.anchored = args.last_seq is not None or args.epoch is not None
        self.pending: dict[int, dict] = {}  # events ahead of last_seq + 1, by seq
        self.gap_since: float | None = None
        self.left_epochs: set[str] = set()  # logs replaced since: their late events are dropped
        self.reloaded: tuple[str, int] | None = None  # (epoch, head) reloaded since the join
        self.acked_seq = self.last_seq
        self.last_ack_at = 0.0
        self.joined = False
        self.printed = 0
        self.inbox: queue.Queue = queue.Queue()
        self.connect_error: object = None
        self.sio = socketio.Client(
            reconnection=True, reconnection_delay=0.5, reconnection_delay_max=5
        )
        self._listen()

    # --- socket.io handlers run on threads of python-socketio's: they only queue -----------

    def _listen(self) -> None:
        put = self.inbox.put
        # *_: newer python-socketio versions pass the disconnect a reason.
        self.sio.on("connect", lambda *_: put(("connect", None)))
        self.sio.on("disconnect", lambda *_: put(("disconnect", None)))
        self.sio.on("connect_error", self._on_connect_error)
        for name, kind in (
            ("thread:event", "event"),
            ("thread:reset", "reset"),
            ("thread:left", "left"),
            ("relay:error", "error"),
            ("relay:status", "status"),
            ("relay:session", "session"),
            ("user:event", "user_event"),
        ):
            self.sio.on(name, lambda data, kind=kind: put((kind, data)))

    def _on_connect_error(self, data: object = None) -> None:
        # {"message": "unauthorized"} or {"message": "rate_limited", "data": {...}}
        self.connect_error = data
        self.inbox.put(("connect_error", data))

    # --- main thread -----------------------------------------------------------------------

    def run(self) -> int:
        transports = None if self.args.transport == "auto" else [self.args.transport]
        try:
            self.sio.connect(
                self.args.url,
                auth={"token": self.args.token},
                transports=transports,
                socketio_path=self.args.socket_path,
                wait_timeout=10,
            )
        except socketio.exceptions.ConnectionError as error:
            raise Failure(f"cannot connect: {error} {json.dumps(self.connect_error)}") from None
        deadline = None if self.args.timeout_s is None else time.monotonic() + self.args.timeout_s
        try:
            while not self._done():
                if deadline is not None and time.monotonic() > deadline:
                    raise Failure(
                        f"timed out after {self.args.timeout_s} s with {self.printed} events"
                    )
                try:
                    kind, data = self.inbox.get(timeout=self._wait_s(deadline))
                except queue.Empty:
                    kind, data = "tick", None
                self._handle(kind, data)
                if self.inbox.empty():
                    self._check_gap()
                    self._ack(final=False)
            self._ack(final=True)
            return 0
        finally:
            self._out({
                "kind": "cursor",
                "threadId": self.thread_id,
                "epoch": self.epoch,
                "lastSeq": self.last_seq,
            })
            self.sio.disconnect()

    def _done(self) -> bool:
        return self.args.exit_after is not None and self.printed >= self.args.exit_after

    def _wait_s(self, deadline: float | None) -> float:
        wait = 1.0
        now = time.monotonic()
        if self.last_seq > self.acked_seq:
            wait = min(wait, self.last_ack_at + self.args.ack_interval_ms / 1000 - now)
        if self.gap_since is not None:
            wait = min(wait, self.gap_since + GAP_GRACE_S - now)
        if deadline is not None:
            wait = min(wait, deadline - now)
        return max(0.01, wait)

    def _handle(self, kind: str, data) -> None:
        if kind == "connect":
            self.joined = False
            self._join()
        elif kind == "joined":
            self._joined(data)
        elif kind == "event":
            if isinstance(data, dict) and data.get("threadId") == self.thread_id:
                self._accept(data)
        elif kind == "reset":
            if isinstance(data, dict) and data.get("threadId") == self.thread_id:
                self._on_reset(data)
        elif kind == "left":
            self._out({"kind": "left", **data})
            raise Failure(f"the relay took this connection out of the thread: {data}")
        elif kind == "error":
            self._relay_error(data)
        elif kind in ("status", "session"):
            self._out({"kind": kind, **data})
        elif kind == "user_event":
            self._out({"kind": "user_event", "event": data})
        elif kind == "disconnect":
            self.joined = False
            log("disconnected; socket.io reconnects by itself")
        elif kind == "connect_error":
            log(f"connect_error: {json.dumps(data)}")

    def _join(self) -> None:
        request: dict = {"threadId": self.thread_id}
        if self.anchored:
            request["lastSeq"] = self.last_seq
            if self.epoch:
                request["epoch"] = self.epoch
        log(f"thread:join {json.dumps(request)}")
        self.reloaded = None
        self.sio.emit(
            "thread:join", request, callback=lambda answer: self.inbox.put(("joined", answer))
        )

    def _joined(self, answer: dict) -> None:
        if not answer.get("ok"):
            error = answer.get("error", {})
            if error.get("code") not in RETRYABLE:
                raise Failure(f"thread:join refused: {json.dumps(error)}")
            wait_ms = error.get("retryAfterMs") or 1000
            log(f"thread:join refused {error.get('code')}; again in {wait_ms} ms")
            time.sleep(wait_ms / 1000)
            self._join()
            return
        self._out({"kind": "joined", **{k: v for k, v in answer.items() if k != "ok"}})
        self.joined = True
        if "reset" in answer or (self.epoch and answer["epoch"] != self.epoch):
            return  # thread:reset follows; it moves the cursor
        self.epoch = answer["epoch"]
        if not self.anchored:
            # No cursor: the replay starts after headSeq - replayed (the oldest event kept).
            self.anchored = True
            base = answer["headSeq"] - answer["replayed"]
            if base > self.last_seq:
                self.last_seq = self.acked_seq = base
            self._drain()

    def _accept(self, event: dict) -> None:
        """Takes an event from the socket or from history: printed once, in seq order."""
        if event["epoch"] in self.left_epochs:
            return  # a late event of a log that was replaced since
        if self.epoch and event["epoch"] != self.epoch:
            # The log was replaced (it expired or was dropped) while this client was joined:
            # the new one starts again at seq 1, and no thread:reset says so.
            self._reload("epoch_changed")
            if event["epoch"] != self.epoch:
                return
        if event["seq"] <= self.last_seq or event["seq"] in self.pending:
            return  # a duplicate: the relay sends at least once
        self.pending[event["seq"]] = event
        self._drain()

    def _drain(self) -> None:
        while self.last_seq + 1 in self.pending:
            self._print_event(self.pending.pop(self.last_seq + 1))
        for seq in [seq for seq in self.pending if seq <= self.last_seq]:
            del self.pending[seq]
        if not self.pending:
            self.gap_since = None
        elif self.gap_since is None:
            self.gap_since = time.monotonic()

    def _print_event(self, event: dict) -> None:
        self.epoch = event["epoch"]
        self.last_seq = event["seq"]
        self.printed += 1
        self._out({"kind": "event", "event": event})

    def _check_gap(self) -> None:
        """A seq missing for GAP_GRACE_S (not merely reordered) is read from history."""
        if not self.anchored or self.gap_since is None:
            return
        if time.monotonic() - self.gap_since < GAP_GRACE_S:
            return
        page = self._history(self.last_seq)
        messages = page["messages"]
        if page["epoch"] != self.epoch or not messages or messages[0]["seq"] > self.last_seq + 1:
            self._reload("trimmed")  # what lies between is no longer in the log
            return
        for message in messages:
            self._accept(message)
        self.gap_since = time.monotonic() if self.pending else None

    def _on_reset(self, notice: dict) -> None:
        """thread:reset: reload the log unless that was done already, then join again."""
        # Reloaded already since the join (for an event of the new log, handled first)?
        done = self.reloaded
        covered = done and done[0] == notice["epoch"] == self.epoch and done[1] >= notice["headSeq"]
        if not covered:
            self._reload(notice["reason"])
        # Join again from the new cursor. Needless when the join answer announced this reset,
        # but a reset in the middle of a replay ends that replay without switching to live
        # events, and only a join does. A join of a joined thread is free.
        if self.sio.connected:
            self._join()

    def _reload(self, reason: str) -> None:
        """Reloads the retained log: it replaces everything printed before."""
        for _ in range(5):
            first = self._history(0)
            epoch, head = first["epoch"], first["headSeq"]
            events, after, page = [], 0, first
            while True:
                before = after
                for message in page["messages"]:
                    if message["seq"] > after:
                        events.append(message)
                        after = message["seq"]
                # A page may end early (by bytes): only the head, or no progress, ends it.
                if after >= head or after == before:
                    break
                page = self._history(after)
                if page["epoch"] != epoch:
                    break
            if page["epoch"] == epoch:
                break
        else:
            raise Failure("the thread's log kept changing epoch while being reloaded")
        self._out({
            "kind": "reset",
            "threadId": self.thread_id,
            "epoch": epoch,
            "headSeq": head,
            "reason": reason,
            "events": len(events),
        })
        if self.epoch and self.epoch != epoch:
            self.left_epochs.add(self.epoch)
        self.epoch = epoch
        self.last_seq = self.acked_seq = 0
        self.anchored = True
        self.reloaded = (epoch, head)
        for event in events:
            self._print_event(event)
        # Live events go on after the head; any up to it (or up to what was loaded) are
        # duplicates now. Held-back events of this log that follow are taken in order.
        self.last_seq = max(self.last_seq, head)
        self.pending = {s: e for s, e in self.pending.items() if e["epoch"] == epoch}
        self._drain()

    def _history(self, after: int) -> dict:
        """One page of GET /threads/:id/messages; a thread without a log yet is empty."""
        query = urllib.parse.urlencode({"after": after, "limit": HISTORY_PAGE})
        thread = urllib.parse.quote(self.thread_id, safe="")
        url = f"{self.base_url}/threads/{thread}/messages?{query}"
        request = urllib.request.Request(url, headers={
            "Authorization": f"Bearer {self.args.token}",
            "Accept": "application/json",
        })
        for _ in range(10):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.load(response)
            except urllib.error.HTTPError as error:
                body = json.loads(error.read() or b"{}")
                code = body.get("error", {}).get("code")
                if error.code == 404 and code == "THREAD_NOT_FOUND":
                    return {"threadId": self.thread_id, "epoch": "", "headSeq": 0, "messages": []}
                if error.code not in (429, 503):
                    raise Failure(f"history: HTTP {error.code} {json.dumps(body)}") from None
                time.sleep(float(error.headers.get("Retry-After") or 1))
        raise Failure("history: still refused after 10 attempts")

    def _ack(self, final: bool) -> None:
        if not self.joined or not self.sio.connected or self.last_seq <= self.acked_seq:
            return
        now = time.monotonic()
        if not final and now - self.last_ack_at < self.args.ack_interval_ms / 1000:
            return
        ack = {"threadId": self.thread_id, "seq": self.last_seq, "epoch": self.epoch}
        self.last_ack_at = now
        self.acked_seq = self.last_seq
        if not final:
            self.sio.emit("thread:ack", ack)  # no callback: only a refusal comes back
            return
        # The last one asks for its answer: a packet sent just before a close may be lost.
        try:
            answer = self.sio.call("thread:ack", ack, timeout=5)
            log(f"final thread:ack {json.dumps(ack)} -> {json.dumps(answer)}")
        except socketio.exceptions.TimeoutError:
            log("final thread:ack not answered within 5 s")

    def _relay_error(self, notice: dict) -> None:
        self._out({"kind": "error", **notice})
        event, code = notice.get("event"), notice.get("error", {}).get("code")
        if event is None or code == "TOKEN_EXPIRED":
            # About the connection itself (token expired, too many connections): it closes.
            raise Failure(f"the relay closes this connection: {json.dumps(notice)}")
        if event == "thread:join":
            # The replay broke off after the join was answered: join again from the cursor.
            time.sleep(1)
            self._join()

    def _out(self, line: dict) -> None:
        sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
        sys.stdout.flush()


def log(message: str) -> None:
    sys.stderr.write(f"socketio_client: {message}\n")
    sys.stderr.flush()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="relay base URL (with its routes prefix)")
    parser.add_argument("--token", required=True, help="the user's token (a JWT)")
    parser.add_argument("--thread-id", required=True)
    parser.add_argument("--last-seq", type=int, help="resume after this seq (with --epoch)")
    parser.add_argument("--epoch", help="the log epoch --last-seq counts in")
    parser.add_argument("--exit-after", type=int, help="exit 0 once this many events are printed")
    parser.add_argument("--timeout-s", type=float, help="exit 1 if still running after this long")
    parser.add_argument("--ack-interval-ms", type=int, default=250)
    parser.add_argument(
        "--transport", choices=("websocket", "polling", "auto"), default="websocket"
    )
    parser.add_argument("--socket-path", default="socket.io", help="the relay's gateway.path")
    args = parser.parse_args(argv)
    if args.last_seq is not None and args.last_seq < 0:
        parser.error("--last-seq must not be negative")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        return ThreadFollower(args).run()
    except Failure as failure:
        log(str(failure))
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
