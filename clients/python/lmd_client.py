"""A client of lmd: newline-delimited JSON-RPC 2.0 over a Unix socket, Python standard library only.

    from lmd_client import Client
    with Client() as lm:                       # $XDG_RUNTIME_DIR/lmd.sock, else /tmp/lmd-$UID/lmd.sock
        print(lm.topk("This weekend I plan to", k=5)["tokens"])
        for delta in lm.complete_stream("Once upon a time", max_tokens=20):
            print(delta["text"], end="", flush=True)

One connection is shared by every thread that uses the client: requests carry ids and a reader thread
hands each answer to the call waiting for it, so calls from several threads run concurrently.
"""

import array
import base64
import collections
import errno
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

__all__ = [
    "Client",
    "CompletionStream",
    "LMDError",
    "LMDConnectionError",
    "LMDStartError",
    "PendingCall",
    "default_socket_path",
    "decode_logits",
    "PARSE_ERROR",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "INVALID_PARAMS",
    "INTERNAL_ERROR",
    "REQUEST_CANCELLED",
    "SERVER_BUSY",
]

# The JSON-RPC error codes lmd answers with (protocol/ has the full list and their data).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_CANCELLED = -32800
SERVER_BUSY = -32000

SOCKET_FILE_NAME = "lmd.sock"


class LMDError(Exception):
    """An error answer from lmd: `code` (see the constants above), `message` (a sentence) and `data`."""

    def __init__(self, code, message, data=None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.data = data

    def __str__(self):
        return "%d: %s" % (self.code, self.message)

    def __repr__(self):
        return "LMDError(%r, %r)" % (self.code, self.message)


class LMDConnectionError(ConnectionError):
    """The connection to lmd could not be made, or was lost before the answer came."""


class LMDStartError(RuntimeError):
    """lmd was to be started but exited or did not answer in time (the message names its log)."""


def default_socket_path(environ=None, uid=None):
    """`$XDG_RUNTIME_DIR/lmd.sock` when that variable is set, else `/tmp/lmd-$UID/lmd.sock` (lmd's own rule)."""
    environ = os.environ if environ is None else environ
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, SOCKET_FILE_NAME)
    return "/tmp/lmd-%d/%s" % (os.getuid() if uid is None else uid, SOCKET_FILE_NAME)


def decode_logits(result):
    """The logits of a `forward` result as a list of rows (lists of floats), whichever encoding it used."""
    if "logits" in result:
        return result["logits"]
    rows, columns = result["shape"]
    values = array.array("f")
    values.frombytes(base64.b64decode(result["logits_base64"]))
    if sys.byteorder != "little":
        values.byteswap()
    if len(values) != rows * columns:
        raise ValueError("logits_base64 holds %d floats, not %d x %d" % (len(values), rows, columns))
    return [values[r * columns:(r + 1) * columns].tolist() for r in range(rows)]


class PendingCall:
    """A request sent and not yet answered: `id`, `result(timeout)` to wait for it, `cancel()` to cancel it."""

    def __init__(self, client, request_id, method):
        self.id = request_id
        self.method = method
        self._client = client
        self._done = threading.Event()
        self._result = None
        self._error = None
        self._deltas = collections.deque()
        self._arrived = threading.Condition(threading.Lock())

    def _finish(self, result=None, error=None):
        with self._arrived:
            self._result, self._error = result, error
            self._done.set()
            self._arrived.notify_all()

    def _notify(self, params):
        with self._arrived:
            self._deltas.append(params)
            self._arrived.notify_all()

    def done(self):
        """True once the answer (or a lost connection) has arrived."""
        return self._done.is_set()

    def result(self, timeout=None):
        """Waits for the answer and returns its result; raises `LMDError` for an error answer,
        `LMDConnectionError` when the connection was lost, `TimeoutError` after `timeout` seconds."""
        if not self._done.wait(timeout):
            raise TimeoutError("no answer to %s (id %r) within %s s" % (self.method, self.id, timeout))
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self):
        """Asks lmd to cancel this request (it then answers -32800, unless it had already finished)."""
        if not self._done.is_set():
            self._client.cancel(self.id)

    def next_event(self, timeout=None):
        """The next notification params for this request, or None once the answer has arrived and every
        notification sent before it has been taken; raises `TimeoutError` after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._arrived:
            while not self._deltas and not self._done.is_set():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("nothing from %s (id %r) within %s s" % (self.method, self.id, timeout))
                self._arrived.wait(remaining)
            return self._deltas.popleft() if self._deltas else None


class CompletionStream:
    """A streamed `complete`: iterate for the `complete/delta` params ({id, ids, text[, logprobs]}) as they come;
    `result` holds the final response once iteration ends. Leaving it early (`close()`, `break` inside `with`)
    cancels the request."""

    def __init__(self, pending, timeout):
        self._pending = pending
        self._timeout = timeout
        self.id = pending.id
        self.result = None
        self.text = ""

    def __iter__(self):
        return self

    def __next__(self):
        delta = self._pending.next_event(self._timeout)
        if delta is None:
            self.result = self._pending.result(0)
            raise StopIteration
        self.text += delta.get("text", "")
        return delta

    def cancel(self):
        """Sends `$/cancelRequest` for this completion; iteration then ends with `LMDError` -32800."""
        self._pending.cancel()

    def close(self):
        """Cancels the completion if it is still running and waits for its answer (ignoring errors)."""
        if not self._pending.done():
            self._pending.cancel()
            try:
                self._pending.result(self._timeout)
            except (LMDError, LMDConnectionError, TimeoutError):
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Client:
    """A connection to lmd. `Client(socket_path=None)` connects at once (default path: `default_socket_path()`).

    With `model=` (a model folder), a daemon is started when nothing listens there: `lmd_bin` (default: `lmd`
    on PATH), its log beside the socket as `<socket>.log`; `client.daemon` is then its `subprocess.Popen`.
    `timeout` is the default seconds a call waits (None: for ever). Use as a context manager, or call `close()`.
    """

    def __init__(self, socket_path=None, model=None, lmd_bin=None, lmd_args=(), timeout=300.0,
                 start_timeout=60.0, on_notification=None):
        self.socket_path = socket_path or default_socket_path()
        self.timeout = timeout
        self.daemon = None
        self.on_notification = on_notification
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._pending = {}
        self._unclaimed = collections.deque(maxlen=10000)  # unread strays must not grow without bound
        self._unclaimed_arrived = threading.Condition(threading.Lock())
        self._lost = None
        try:
            self._sock = self._connect()
        except LMDConnectionError:
            if model is None:
                raise
            try:
                self.daemon = start_daemon(model, self.socket_path, lmd_bin=lmd_bin, lmd_args=lmd_args,
                                           timeout=start_timeout)
            except LMDStartError:
                # Another client may have started one at the same moment (ours then could not listen).
                if not is_listening(self.socket_path):
                    raise
            self._sock = self._connect()
        self._reader = threading.Thread(target=self._read_loop, name="lmd-client-reader", daemon=True)
        self._reader.start()

    def _connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.socket_path)
        except OSError as error:
            sock.close()
            raise LMDConnectionError("cannot connect to lmd at %s: %s" % (self.socket_path, error.strerror or error)) \
                from error
        return sock

    # -- plumbing ---------------------------------------------------------------------------------------

    def send_raw(self, line):
        """Sends one line exactly as given (str or bytes, without the newline): for tests and transcripts."""
        data = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        if b"\n" in data:
            raise ValueError("a line sent to lmd must not contain a newline")
        with self._send_lock:
            if self._lost is not None:
                raise self._lost
            try:
                self._sock.sendall(data + b"\n")
            except OSError as error:
                raise LMDConnectionError("lost the connection to lmd: %s" % (error.strerror or error)) from error

    def send(self, message):
        """Sends one JSON-RPC message (a dict) as a line."""
        self.send_raw(json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    def request(self, method, params=None):
        """Sends a request and returns its `PendingCall` at once (wait with `.result()`)."""
        with self._lock:
            if self._lost is not None:
                raise self._lost
            request_id = next(self._ids)
            pending = PendingCall(self, request_id, method)
            self._pending[request_id] = pending
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            self.send(message)
        except BaseException:
            with self._lock:
                self._pending.pop(request_id, None)
            raise
        return pending

    def call(self, method, params=None, timeout=None):
        """Calls `method` with `params` (a dict, or None) and returns the result; raises `LMDError` for an
        error answer. When `timeout` (default: the client's) runs out the request is cancelled and
        `TimeoutError` raised."""
        pending = self.request(method, params)
        limit = self.timeout if timeout is None else timeout
        try:
            return pending.result(limit)
        except TimeoutError:
            self.cancel(pending.id)
            raise

    def notify(self, method, params=None):
        """Sends a notification (no id, no answer)."""
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def cancel(self, request_id):
        """Sends `$/cancelRequest` for `request_id` (a request of this connection)."""
        self.notify("$/cancelRequest", {"id": request_id})

    def next_unclaimed(self, timeout=None):
        """The next message no call of this client was waiting for (a response to a `send_raw` request, an
        error with a null id, a stray notification), as a dict; raises `TimeoutError` after `timeout` s
        and `LMDConnectionError` once the connection is gone and nothing is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._unclaimed_arrived:
            while not self._unclaimed:
                if self._lost is not None:
                    raise self._lost
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("no message from lmd within %s s" % timeout)
                self._unclaimed_arrived.wait(remaining)
            return self._unclaimed.popleft()

    def _read_loop(self):
        buffer = b""
        reason = "lmd closed the connection"
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while True:
                    end = buffer.find(b"\n")
                    if end < 0:
                        break
                    line, buffer = buffer[:end], buffer[end + 1:]
                    if line.strip():
                        self._dispatch(line)
        except OSError as error:
            reason = "lost the connection to lmd: %s" % (error.strerror or error)
        lost = LMDConnectionError(reason)
        with self._lock:
            self._lost = lost
            pending, self._pending = self._pending, {}
        for call in pending.values():
            call._finish(error=lost)
        with self._unclaimed_arrived:
            self._unclaimed_arrived.notify_all()

    def _dispatch(self, line):
        try:
            message = json.loads(line.decode("utf-8", errors="replace"))
        except ValueError:
            message = {"unparsed": line.decode("utf-8", errors="replace")}
        if isinstance(message, dict) and "method" in message and "id" not in message:
            params = message.get("params")
            owner_id = params.get("id") if isinstance(params, dict) else None
            with self._lock:
                owner = self._pending.get(owner_id) if isinstance(owner_id, int) else None
            if owner is not None:
                owner._notify(params)
                return
            handler = self.on_notification
            if handler is not None:
                handler(message)
                return
        elif isinstance(message, dict) and isinstance(message.get("id"), int) and \
                ("result" in message or "error" in message):
            with self._lock:
                owner = self._pending.pop(message["id"], None)
            if owner is not None:
                if "error" in message:
                    error = message["error"] or {}
                    owner._finish(error=LMDError(error.get("code", INTERNAL_ERROR), error.get("message", ""),
                                                 error.get("data")))
                else:
                    owner._finish(result=message["result"])
                return
        with self._unclaimed_arrived:
            self._unclaimed.append(message)
            self._unclaimed_arrived.notify_all()

    def close(self, stop_daemon=False):
        """Closes the connection; with `stop_daemon`, also stops a daemon this client started."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._reader.join(5)
        if stop_daemon and self.daemon is not None:
            stop_process(self.daemon)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- methods ----------------------------------------------------------------------------------------

    @staticmethod
    def _input(text, ids, params):
        if (text is None) == (ids is None):
            raise ValueError("give exactly one of text and ids")
        if text is not None:
            params["text"] = text
        else:
            params["ids"] = list(ids)
        return params

    @staticmethod
    def _options(params, **options):
        for key, value in options.items():
            if value is not None:
                params[key] = value
        return params

    def info(self):
        """What model lmd serves: {model, vocab_size, n_positions, n_embd, n_layer, n_head, dtype, eos_token_id, ...}."""
        return self.call("info")

    def tokenize(self, text=None, ids=None, add_prefix_space=None):
        """{ids, tokens, offsets} of `text` (offsets are [start, end) UTF-8 byte ranges)."""
        return self.call("tokenize", self._options(self._input(text, ids, {}), add_prefix_space=add_prefix_space))

    def detokenize(self, ids):
        """{text} of token ids decoded together."""
        return self.call("detokenize", {"ids": list(ids)})

    def forward(self, text=None, ids=None, positions=None, encoding=None, add_prefix_space=None):
        """{ids, shape, logits | logits_base64}; `decode_logits()` turns either into rows of floats."""
        params = self._input(text, ids, {})
        return self.call("forward", self._options(params, positions=positions, encoding=encoding,
                                                  add_prefix_space=add_prefix_space))

    def topk(self, text=None, k=None, ids=None, add_prefix_space=None):
        """The k (default 10) most likely next tokens: {ids, tokens, logits, probs, text}, most likely first."""
        params = self._input(text, ids, {})
        return self.call("topk", self._options(params, k=k, add_prefix_space=add_prefix_space))

    def complete(self, text=None, ids=None, max_tokens=None, temperature=None, top_k=None, top_p=None, seed=None,
                 stop=None, logprobs=None, add_prefix_space=None, timeout=None):
        """Continues the text: {ids, text, finish_reason[, logprobs]}. temperature 0 (the default) is greedy."""
        params = self._options(self._input(text, ids, {}), max_tokens=max_tokens, temperature=temperature,
                               top_k=top_k, top_p=top_p, seed=seed, stop=stop, logprobs=logprobs,
                               add_prefix_space=add_prefix_space)
        return self.call("complete", params, timeout=timeout)

    def complete_stream(self, text=None, ids=None, max_tokens=None, temperature=None, top_k=None, top_p=None,
                        seed=None, stop=None, logprobs=None, add_prefix_space=None, timeout=None):
        """Like `complete`, streamed: returns a `CompletionStream` that yields each delta {id, ids, text}."""
        params = self._options(self._input(text, ids, {}), max_tokens=max_tokens, temperature=temperature,
                               top_k=top_k, top_p=top_p, seed=seed, stop=stop, logprobs=logprobs,
                               add_prefix_space=add_prefix_space)
        params["stream"] = True
        return CompletionStream(self.request("complete", params), self.timeout if timeout is None else timeout)

    def suggest(self, text, n=None, max_tokens=None, stop_at=None, heal=None, add_prefix_space=None, full=False,
                timeout=None):
        """Completions for a cursor after `text`, best first: a list of {insert, label, logprob, ids}; `insert`
        is what to type at the cursor, `label` the whole word. stop_at: "word" (default), "line" or "none".
        With `full`, the whole result: {suggestions, healed[, truncated]}."""
        params = self._options({"text": text}, n=n, max_tokens=max_tokens, stop_at=stop_at, heal=heal,
                               add_prefix_space=add_prefix_space)
        result = self.call("suggest", params, timeout=timeout)
        return result if full else result["suggestions"]

    def shutdown(self):
        """Asks lmd to stop (it answers null first)."""
        return self.call("shutdown")


# -- starting a daemon ----------------------------------------------------------------------------------

def find_lmd():
    """`$LMD_BIN`, else `lmd` on PATH, else None."""
    given = os.environ.get("LMD_BIN")
    if given:
        return given
    return shutil.which("lmd")


def start_daemon(model, socket_path=None, lmd_bin=None, lmd_args=(), timeout=60.0):
    """Starts `lmd --model MODEL --socket PATH` in its own session (a Ctrl-C for the caller must not stop it),
    logging to `<socket>.log`, and waits until it answers; returns its `subprocess.Popen`."""
    socket_path = socket_path or default_socket_path()
    lmd_bin = lmd_bin or find_lmd()
    if not lmd_bin:
        raise LMDStartError("no lmd to start: pass lmd_bin, set LMD_BIN or put lmd on PATH")
    folder = os.path.dirname(socket_path)
    if folder:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError as error:
            raise LMDStartError("cannot create the socket folder %s: %s" % (folder, error.strerror)) from error
    log_path = socket_path + ".log"
    try:
        log_start = os.path.getsize(log_path)
    except OSError:
        log_start = 0
    command = [lmd_bin, "--model", str(model), "--socket", socket_path] + list(lmd_args)
    # The log is the owner's only, like the socket's folder.
    with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                       start_new_session=True, close_fds=True)
        except OSError as error:
            raise LMDStartError("cannot run %s: %s" % (lmd_bin, error.strerror or error)) from error
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(socket_path):
            return process
        status = process.poll()
        if status is not None:
            raise LMDStartError("lmd exited with status %d: %s (log: %s)" % (status, _first_new_line(log_path, log_start),
                                                                             log_path))
        time.sleep(0.05)
    stop_process(process)
    raise LMDStartError("lmd did not answer on %s within %g s (log: %s)" % (socket_path, timeout, log_path))


def is_listening(socket_path):
    """True when something accepts connections on `socket_path` now."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_path)
        return True
    except OSError as error:
        if error.errno not in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK):
            raise
        return False
    finally:
        sock.close()


def stop_process(process, grace=10.0):
    """SIGTERM, then SIGKILL after `grace` seconds; waits for the process."""
    if process.poll() is not None:
        return process.returncode
    process.terminate()
    try:
        return process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def _first_new_line(path, offset):
    """The first line lmd wrote to its log from `offset` on (its first complaint, before any usage text)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            lines = [line for line in f.read(65536).decode("utf-8", errors="replace").splitlines() if line.strip()]
            return lines[0] if lines else "no message"
    except OSError:
        return "no log"
