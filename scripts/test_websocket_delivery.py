#!/usr/bin/env python3
"""One-shot delivery probe against a running reference server, standard library only:

    python scripts/test_websocket_delivery.py --user-id test --message "ping" \\
        [--url http://localhost:8000] [--timeout-ms 15000] [--thread-id <id>] [--token <jwt>] \\
        [--transport auto|sse|polling]

Signs in (POST /auth/dev-token, or --token), sends the message on a new thread (POST
/threads/:id/messages opens it), then follows the thread from just before the message
until the agent's agent_completed, printing each event with its latency (now minus the
event's server timestamp). It follows over Server-Sent Events (GET /threads/:id/events,
resumed with Last-Event-ID); when the stream cannot be used (refused, cut, or held back
by a proxy) it goes on by REST polling (GET /threads/:id/messages?after=N) from the last
event it printed. The relay's WebSocket speaks socket.io, which the standard library
cannot; the Node probe (npm run probe) uses it. Both read the same thread log and the same
live fan-out.

Exit 0 when the run came through in order; 1 with the reason otherwise (server down,
unauthorized, timeout, ...); 2 for bad arguments.
"""

import argparse
import errno
import http.client
import json
import re
import secrets
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

USAGE = """usage: python scripts/test_websocket_delivery.py --user-id <id> --message <text>
                        [--url http://localhost:8000] [--timeout-ms 15000] [--thread-id <id>]
                        [--token <jwt>] [--transport auto|sse|polling]"""

# The relay's id rules (src/registry/thread-id.ts): 1-200 of these characters, and not
# the run form <thread>_run_<millis>_<hex>, which is reserved for runs.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:@-]+$")
RUN_ID_PATTERN = re.compile(r"^(.+)_run_(\d{10,16})_([0-9a-fA-F]{4,64})$")
MAX_ID_LENGTH = 200

COMPLETED_TYPE = "agent_completed"
TRANSPORTS = ("auto", "sse", "polling")
POLL_PAGE = 200
POLL_INTERVAL_S = 0.25
# The server writes ": open" as soon as a stream starts: nothing for this long means a
# proxy is holding the stream back.
SSE_FIRST_BYTE_S = 3.0
# Heartbeats come every 15 s by default (sse.heartbeatMs); silence past this is a dead stream.
SSE_SILENCE_S = 20.0
REQUEST_TIMEOUT_S = 10.0

# Straight to the server, as the Node probe does: an http_proxy in the environment would
# otherwise carry even localhost requests.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class UsageError(Exception):
    pass


class ProbeError(Exception):
    """A probe that did not see the agent's run through; code says why."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class SseUnusable(Exception):
    """The event stream cannot carry the probe; polling may."""


class Deadline(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def valid_id(value):
    return 0 < len(value) <= MAX_ID_LENGTH and ID_PATTERN.match(value) is not None


def read_args(argv):
    parser = Parser(add_help=False, allow_abbrev=False)
    parser.add_argument("--user-id")
    parser.add_argument("--message")
    parser.add_argument("--url", default="http://localhost:8000")
    parser.add_argument("--timeout-ms", default="15000")
    parser.add_argument("--thread-id")
    parser.add_argument("--token")
    parser.add_argument("--transport", default="auto")
    parser.add_argument("-h", "--help", action="store_true")
    args = parser.parse_args(argv)
    if args.help:
        print(USAGE)
        sys.exit(0)
    if not args.user_id:
        raise UsageError("--user-id is required")
    if not valid_id(args.user_id):
        raise UsageError(
            "--user-id must be 1-200 letters, digits or _ . : @ -, got %r" % args.user_id
        )
    if args.message is None or args.message == "":
        raise UsageError("--message is required")
    if not re.match(r"^\d{1,9}$", args.timeout_ms) or int(args.timeout_ms) < 1:
        raise UsageError("--timeout-ms must be a positive integer, got %s" % args.timeout_ms)
    url = urllib.parse.urlsplit(args.url)
    try:
        port_ok = url.port is None or 0 < url.port
    except ValueError:
        port_ok = False
    if url.scheme not in ("http", "https") or not url.hostname or not port_ok:
        raise UsageError("--url must be an absolute http(s) URL, got %s" % args.url)
    if args.thread_id is not None:
        if not valid_id(args.thread_id):
            raise UsageError(
                "--thread-id must be 1-200 letters, digits or _ . : @ -, got %r" % args.thread_id
            )
        if RUN_ID_PATTERN.match(args.thread_id):
            raise UsageError(
                "--thread-id %s has the run form <thread>_run_<millis>_<hex>, reserved for runs"
                % args.thread_id
            )
    if args.transport not in TRANSPORTS:
        raise UsageError(
            "--transport must be one of %s, got %s" % (", ".join(TRANSPORTS), args.transport)
        )
    if args.token is not None and args.token.strip() == "":
        raise UsageError("--token must not be empty")
    return args


def describe_cause(error):
    """ECONNREFUSED ([Errno 111] Connection refused), as the Node probe names a cause."""
    reason = getattr(error, "reason", error)
    number = getattr(reason, "errno", None)
    name = errno.errorcode.get(number, "") if isinstance(number, int) else ""
    text = str(reason) or type(reason).__name__
    return "%s (%s)" % (name, text) if name else text


def is_timeout(error):
    reason = getattr(error, "reason", error)
    return isinstance(reason, (socket.timeout, TimeoutError))


def error_message(body):
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        inner = body["error"]
        return "%s: %s" % (inner.get("code", "ERROR"), inner.get("message", ""))
    return json.dumps(body)


class Probe:
    def __init__(self, args):
        self.args = args
        self.base = args.url.rstrip("/")
        self.timeout_ms = int(args.timeout_ms)
        self.started = time.monotonic()
        self.deadline = self.started + self.timeout_ms / 1000.0
        self.thread_id = args.thread_id or "thread_" + secrets.token_hex(8)
        self.token = None
        self.epoch = ""
        self.last_seq = 0
        self.sent_seq = 0
        self.sent_at = None
        self.events = []
        self.previous_seq = None
        self.out_of_order = None
        self.completed = None
        self.doing = "signing in"

    # ---- time and output

    def elapsed_ms(self):
        return int(round((time.monotonic() - self.started) * 1000))

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Deadline()
        return left

    def step(self, text):
        print("[%5d ms] %s" % (self.elapsed_ms(), text), flush=True)

    def on_event(self, event):
        if not isinstance(event, dict) or event.get("threadId") != self.thread_id:
            return
        seq = event.get("seq")
        if not isinstance(seq, int) or seq <= self.last_seq:
            return
        if self.previous_seq is not None and seq != self.previous_seq + 1:
            if self.out_of_order is None:
                self.out_of_order = "seq %d arrived after seq %d" % (seq, self.previous_seq)
        now = time.monotonic()
        ts = event.get("ts")
        latency = 0
        if isinstance(ts, (int, float)):
            latency = max(0, int(round(time.time() * 1000 - ts)))
        since_send = 0 if self.sent_at is None else int(round((now - self.sent_at) * 1000))
        self.events.append({"event": event, "since_send_ms": since_send, "latency_ms": latency})
        self.previous_seq = seq
        self.last_seq = seq
        run = "  run %s" % event["runId"] if event.get("runId") else ""
        print(
            "  seq %3d  %-18s +%5d ms after send  latency %4d ms%s"
            % (seq, str(event.get("type")), since_send, latency, run),
            flush=True,
        )
        if event.get("type") == COMPLETED_TYPE and seq > self.sent_seq:
            self.completed = event

    def restart_log(self, epoch, reason):
        """The thread's log was replaced: its seqs start again."""
        self.step("the thread's log was replaced (%s): following the new one from seq 1" % reason)
        self.epoch = epoch
        self.last_seq = 0
        self.previous_seq = None

    # ---- HTTP

    def request_json(self, method, path, body=None, auth=True):
        headers = {"accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["content-type"] = "application/json"
        if auth:
            headers["authorization"] = "Bearer %s" % self.token
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            timeout = min(self.remaining(), REQUEST_TIMEOUT_S)
            with OPENER.open(request, timeout=timeout) as response:
                return response.status, self.parse(response.read())
        except urllib.error.HTTPError as error:
            try:
                payload = error.read()
            finally:
                error.close()
            return error.code, self.parse(payload)
        except Deadline:
            raise
        except Exception as error:  # noqa: BLE001 - every transport failure says what it was
            if is_timeout(error):
                if time.monotonic() >= self.deadline:
                    raise Deadline()
                raise ProbeError(
                    "TIMEOUT", "no answer from %s within %d s" % (self.base, REQUEST_TIMEOUT_S)
                )
            if isinstance(error, (urllib.error.URLError, OSError, http.client.HTTPException)):
                raise ProbeError(
                    "SERVER_DOWN", "cannot reach %s: %s" % (self.base, describe_cause(error))
                )
            raise

    @staticmethod
    def parse(payload):
        try:
            return json.loads(payload.decode("utf-8"))
        except ValueError:
            return payload.decode("utf-8", "replace")[:200]

    def thread_path(self, suffix):
        return "/threads/%s%s" % (urllib.parse.quote(self.thread_id, safe=""), suffix)

    # ---- steps

    def sign_in(self):
        if self.args.token is not None:
            self.token = self.args.token
            self.step("using the given token")
            return
        status, body = self.request_json(
            "POST", "/auth/dev-token", {"userId": self.args.user_id}, auth=False
        )
        if status == 404:
            raise ProbeError(
                "DEV_TOKEN_UNAVAILABLE",
                "POST %s/auth/dev-token answered 404: dev sign-in is off (NODE_ENV=production?) "
                "or this is not the reference server; pass --token" % self.base,
            )
        if not 200 <= status < 300:
            code = "BAD_REQUEST" if status == 400 else "REFUSED"
            raise ProbeError(
                code, "POST /auth/dev-token answered %d: %s" % (status, error_message(body))
            )
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or token == "":
            raise ProbeError("REFUSED", "POST /auth/dev-token answered no token")
        self.token = token
        self.step("signed in as %s" % self.args.user_id)

    def send(self):
        self.doing = "sending"
        self.sent_at = time.monotonic()
        client_message_id = "probe-" + secrets.token_hex(8)
        path = self.thread_path("/messages")
        status, body = self.request_json(
            "POST", path, {"text": self.args.message, "clientMessageId": client_message_id}
        )
        if status == 401:
            raise ProbeError(
                "UNAUTHORIZED", "the server refused the token: %s" % error_message(body)
            )
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("seq"), int):
            code = "BAD_REQUEST" if status == 400 else "REFUSED"
            raise ProbeError(
                code,
                "POST /threads/%s/messages answered %d: %s"
                % (self.thread_id, status, error_message(body)),
            )
        self.sent_seq = body["seq"]
        self.epoch = str(body.get("epoch", ""))
        # Follow from just before the message, so it is the first event printed.
        self.last_seq = self.sent_seq - 1
        message = json.dumps(self.args.message, ensure_ascii=False)
        self.step(
            "sent %s as seq %d on %s (epoch %s)"
            % (message, self.sent_seq, self.thread_id, self.epoch)
        )

    def follow(self):
        self.doing = "waiting for %s" % COMPLETED_TYPE
        transport = self.args.transport
        if transport in ("auto", "sse"):
            try:
                self.follow_sse()
                return
            except SseUnusable as unusable:
                if transport == "sse":
                    raise ProbeError("REFUSED", "the event stream cannot be used: %s" % unusable)
                self.step(
                    "SSE unusable (%s): following by REST polling after seq %d"
                    % (unusable, self.last_seq)
                )
        else:
            self.step(
                "following %s by REST polling after seq %d" % (self.thread_id, self.last_seq)
            )
        self.follow_polling()

    def follow_sse(self):
        url = urllib.parse.urlsplit(self.base)
        connection_class = (
            http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(
            url.hostname, url.port, timeout=min(self.remaining(), SSE_FIRST_BYTE_S)
        )
        headers = {
            "accept": "text/event-stream",
            "cache-control": "no-cache",
            "authorization": "Bearer %s" % self.token,
            "last-event-id": "%s:%d" % (self.epoch, self.last_seq),
        }
        path = url.path.rstrip("/") + self.thread_path("/events")
        try:
            try:
                connection.request("GET", path, headers=headers)
                sock = connection.sock
                response = connection.getresponse()
            except Exception as error:  # noqa: BLE001
                if is_timeout(error):
                    self.remaining()
                    raise SseUnusable("no answer within %d s" % SSE_FIRST_BYTE_S)
                raise SseUnusable("cannot open the stream: %s" % describe_cause(error))
            if response.status == 401:
                answer = self.parse(response.read())
                raise ProbeError(
                    "UNAUTHORIZED", "the server refused the token: %s" % error_message(answer)
                )
            content_type = response.getheader("content-type", "")
            if response.status != 200 or not content_type.startswith("text/event-stream"):
                answered = "GET %s answered %d %s" % (
                    self.thread_path("/events"),
                    response.status,
                    content_type,
                )
                raise SseUnusable(answered.rstrip())
            self.step("following %s over SSE after seq %d" % (self.thread_id, self.last_seq))
            self.read_stream(response, sock)
        finally:
            connection.close()

    def read_stream(self, response, sock):
        event_name, data, got_bytes = "", [], False
        while self.completed is None:
            window = SSE_SILENCE_S if got_bytes else SSE_FIRST_BYTE_S
            sock.settimeout(min(self.remaining(), window))
            try:
                raw = response.readline()
            except Exception as error:  # noqa: BLE001
                if is_timeout(error):
                    self.remaining()
                    raise SseUnusable(
                        "the stream sent nothing for %d s%s"
                        % (window, "" if got_bytes else " (a proxy buffering it?)")
                    )
                raise SseUnusable("the stream broke: %s" % describe_cause(error))
            if raw == b"":
                raise SseUnusable("the server ended the stream")
            got_bytes = True
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line == "":
                if data:
                    self.dispatch(event_name or "message", "\n".join(data))
                event_name, data = "", []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "event":
                event_name = value
            elif field == "data":
                data.append(value)

    def dispatch(self, name, data):
        try:
            payload = json.loads(data)
        except ValueError:
            raise SseUnusable("a %s frame is not JSON" % name)
        if name == "thread.event":
            if isinstance(payload, dict) and payload.get("epoch") not in (None, self.epoch):
                self.restart_log(payload["epoch"], "new epoch on the stream")
            self.on_event(payload)
        elif name == "thread.reset":
            reason = payload.get("reason") if isinstance(payload, dict) else None
            if reason == "log_replaced":
                self.restart_log(payload.get("epoch", ""), reason)
            else:
                self.step("stream reset: %s" % json.dumps(payload))
                self.previous_seq = None
        elif name == "relay.closed":
            raise SseUnusable("the server closed the stream: %s" % json.dumps(payload))

    def follow_polling(self):
        while self.completed is None:
            status, page = self.request_json(
                "GET", self.thread_path("/messages?after=%d&limit=%d" % (self.last_seq, POLL_PAGE))
            )
            if status == 401:
                raise ProbeError(
                    "UNAUTHORIZED", "the server refused the token: %s" % error_message(page)
                )
            if (
                status != 200
                or not isinstance(page, dict)
                or not isinstance(page.get("messages"), list)
            ):
                code = "BAD_REQUEST" if status == 400 else "REFUSED"
                raise ProbeError(
                    code,
                    "GET /threads/%s/messages answered %d: %s"
                    % (self.thread_id, status, error_message(page)),
                )
            epoch = str(page.get("epoch", ""))
            if self.epoch and epoch and epoch != self.epoch and page.get("headSeq", 0) > 0:
                self.restart_log(epoch, "new epoch on the page")
                continue
            self.epoch = epoch or self.epoch
            messages = sorted(
                (
                    m
                    for m in page["messages"]
                    if isinstance(m, dict) and isinstance(m.get("seq"), int)
                ),
                key=lambda m: m["seq"],
            )
            for event in messages:
                self.on_event(event)
            head = page.get("headSeq", 0)
            if self.completed is None and len(messages) < POLL_PAGE and self.last_seq >= head:
                time.sleep(min(self.remaining(), POLL_INTERVAL_S))

    def run(self):
        try:
            self.sign_in()
            self.send()
            self.follow()
        except Deadline:
            seen = ", ".join(str(r["event"].get("type")) for r in self.events) or "none"
            raise ProbeError(
                "TIMEOUT",
                "timed out after %d ms %s (got %d event(s): %s)"
                % (self.timeout_ms, self.doing, len(self.events), seen),
            )
        if self.out_of_order is not None:
            raise ProbeError("OUT_OF_ORDER", self.out_of_order)
        latencies = [r["latency_ms"] for r in self.events]
        round_trip = int(round((time.monotonic() - self.sent_at) * 1000))
        print(
            "probe: OK: %d events on %s, run %s, %s %d ms after send, "
            "max event latency %d ms, total %d ms"
            % (
                len(self.events),
                self.thread_id,
                self.completed.get("runId", ""),
                COMPLETED_TYPE,
                round_trip,
                max(latencies),
                self.elapsed_ms(),
            ),
            flush=True,
        )


def main(argv):
    try:
        args = read_args(argv)
    except UsageError as error:
        print("probe: %s\n%s" % (error, USAGE), file=sys.stderr)
        return 2
    print("probe: %s as %s, timeout %s ms" % (args.url, args.user_id, args.timeout_ms), flush=True)
    try:
        Probe(args).run()
        return 0
    except ProbeError as error:
        print("probe: FAILED (%s): %s" % (error.code, error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("probe: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - a bug here still exits 1 with what happened
        print("probe: crashed: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
