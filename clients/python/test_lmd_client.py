"""Tests of lmd_client against a real lmd on the tiny model (random weights: gibberish, but deterministic).

    python3 -m unittest -v clients/python/test_lmd_client.py     (from the repository root, or anywhere)

LMD_BIN: the lmd to run (default: <repo>/.build/debug/lmd); LMD_MODEL: the model folder (default:
<repo>/Tests/Fixtures/tiny-gpt2); LMD_TRANSCRIPTS: the transcripts folder (default: <repo>/protocol/examples).
"""

import base64
import glob
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lmd_client  # noqa: E402
from lmd_client import (Client, LMDConnectionError, LMDError, LMDStartError, decode_logits,  # noqa: E402
                        default_socket_path, start_daemon, stop_process)

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
LMD_BIN = os.environ.get("LMD_BIN") or os.path.join(REPO, ".build", "debug", "lmd")
LMD_MODEL = os.environ.get("LMD_MODEL") or os.path.join(REPO, "Tests", "Fixtures", "tiny-gpt2")
TRANSCRIPTS = os.environ.get("LMD_TRANSCRIPTS") or os.path.join(REPO, "protocol", "examples")
FIXTURES = os.path.join(REPO, "Tests", "Fixtures")
TOLERANCE = 1e-4

_daemons = {}      # tuple(lmd args) -> (process, socket path)
_folder = None


def setUpModule():
    global _folder
    if not os.access(LMD_BIN, os.X_OK):
        raise RuntimeError("no lmd at %s: build it (swift build --product lmd) or set LMD_BIN" % LMD_BIN)
    # A short folder: a Unix socket path must fit in 107 bytes.
    _folder = tempfile.mkdtemp(prefix="lmdpy-", dir="/tmp")


def tearDownModule():
    for process, _ in _daemons.values():
        stop_process(process)
    _daemons.clear()
    if _folder:
        shutil.rmtree(_folder, ignore_errors=True)


def daemon_socket(args=()):
    """The socket of a running lmd started with `args` (started now, or again if it stopped)."""
    key = tuple(args)
    if key in _daemons and _daemons[key][0].poll() is None:
        return _daemons[key][1]
    path = os.path.join(_folder, "d%d.sock" % len(os.listdir(_folder)))
    process = start_daemon(LMD_MODEL, path, lmd_bin=LMD_BIN, lmd_args=list(args), timeout=120)
    _daemons[key] = (process, path)
    return path


# -- transcripts ----------------------------------------------------------------------------------------

def read_transcript(path):
    """(daemon_args, steps) of a transcript; a step is ("send", line text) or ("recv", expected message)."""
    args, steps = [], []
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f.read().split("\n") if line.strip()]
    for number, line in enumerate(lines, 1):
        where = "%s:%d" % (os.path.basename(path), number)
        try:
            entry = json.loads(line)
        except ValueError as error:
            raise AssertionError("%s: not JSON (%s)" % (where, error))
        if not isinstance(entry, dict):
            raise AssertionError("%s: not a JSON object" % where)
        if "send" in entry:
            steps.append(("send", json.dumps(entry["send"], ensure_ascii=False, separators=(",", ":"))))
        elif "send_raw" in entry:
            if not isinstance(entry["send_raw"], str):
                raise AssertionError("%s: send_raw must be a string" % where)
            steps.append(("send", entry["send_raw"]))
        elif "recv" in entry:
            steps.append(("recv", entry["recv"]))
        elif number == 1 and ("comment" in entry or "daemon_args" in entry):
            args = list(entry.get("daemon_args") or [])
        else:
            raise AssertionError("%s: expected send, send_raw or recv" % where)
    return args, steps


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def close_enough(x, y):
    gap = abs(x - y)
    return gap <= TOLERANCE or gap <= TOLERANCE * max(abs(x), abs(y))


def floats_of(text):
    data = base64.b64decode(text, validate=True)
    if len(data) % 4:
        raise ValueError("not a whole number of float32")
    return struct.unpack("<%df" % (len(data) // 4), data)


def differences(expected, actual, path):
    """Every way `actual` differs from `expected`: numbers within TOLERANCE, logits_base64 decoded."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = []
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing:
            problems.append("%s: missing %s" % (path, missing))
        if extra:
            problems.append("%s: unexpected %s" % (path, extra))
        for key, value in expected.items():
            if key not in actual:
                continue
            if key == "logits_base64" and isinstance(value, str) and isinstance(actual[key], str):
                problems += float_differences(value, actual[key], "%s.%s" % (path, key))
            else:
                problems += differences(value, actual[key], "%s.%s" % (path, key))
        return problems
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return ["%s: %d elements, expected %d" % (path, len(actual), len(expected))]
        problems = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            problems += differences(e, a, "%s[%d]" % (path, i))
        return problems
    if is_number(expected) and is_number(actual):
        return [] if close_enough(expected, actual) else ["%s: %r, expected %r" % (path, actual, expected)]
    if type(expected) is not type(actual) or expected != actual:
        return ["%s: %s, expected %s" % (path, json.dumps(actual)[:200], json.dumps(expected)[:200])]
    return []


def float_differences(expected, actual, path):
    try:
        e, a = floats_of(expected), floats_of(actual)
    except ValueError:
        return ["%s: not base64 float32" % path]
    if len(e) != len(a):
        return ["%s: %d floats, expected %d" % (path, len(a), len(e))]
    worst = max(((abs(x - y), i) for i, (x, y) in enumerate(zip(e, a)) if not close_enough(x, y)), default=None)
    return [] if worst is None else ["%s[%d]: %r, expected %r (max difference %g)" % (path, worst[1], a[worst[1]],
                                                                                        e[worst[1]], worst[0])]


def is_notification(message):
    return isinstance(message, dict) and "method" in message and "id" not in message


def response_key(message):
    """What pairs a reply with its expectation: ("id", type, id) for a response, ("batch",) for a batch's
    array reply (batches pair up in order), ("other",) for anything else."""
    if isinstance(message, list):
        return ("batch",)
    if isinstance(message, dict):
        value = message.get("id")
        return ("id", type(value).__name__, json.dumps(value))
    return ("other",)


def compare_messages(expected, received):
    """Responses pair up by id (in order among equal ids), batch replies in order among themselves,
    notifications by order among themselves."""
    problems = []
    expected_responses = [m for m in expected if not is_notification(m)]
    expected_notes = [m for m in expected if is_notification(m)]
    responses = [m for m in received if not is_notification(m)]
    notes = [m for m in received if is_notification(m)]
    for message in expected_responses:
        key = response_key(message)
        name = "batch" if key[0] == "batch" else "response %s" % json.dumps(message.get("id") if isinstance(message, dict) else None)
        index = next((i for i, r in enumerate(responses) if response_key(r) == key), None)
        if index is None:
            problems.append("no %s (expected %s)" % (name, json.dumps(message)[:300]))
            continue
        problems += differences(message, responses.pop(index), name)
    for extra in responses:
        problems.append("unexpected response %s" % json.dumps(extra)[:300])
    for index, note in enumerate(expected_notes):
        if index >= len(notes):
            problems.append("notification %d missing (expected %s)" % (index, json.dumps(note)[:300]))
        else:
            problems += differences(note, notes[index], "notification %d" % index)
    for extra in notes[len(expected_notes):]:
        problems.append("unexpected notification %s" % json.dumps(extra)[:300])
    return problems


def replay_raw(client, steps, timeout=60):
    """Sends every line of the transcript through `client.send_raw`, collects as many messages as it
    expects (via `next_unclaimed`) and returns the differences."""
    expected = [value for kind, value in steps if kind == "recv"]
    for kind, value in steps:
        if kind == "send":
            client.send_raw(value)
    received, problems = [], []
    deadline = time.monotonic() + timeout
    while len(received) < len(expected):
        try:
            received.append(client.next_unclaimed(max(0.01, deadline - time.monotonic())))
        except (TimeoutError, LMDConnectionError) as error:
            problems.append("after %d of %d replies: %s" % (len(received), len(expected), error))
            break
    return problems + compare_messages(expected, received)


def typed_calls(steps):
    """The transcript's requests that can be replayed one by one through `Client.call`/`complete_stream`:
    (method, params, expected response, expected notifications), or None when the transcript depends on
    what happens between requests (cancelling, shutting down, queue limits) or sends what a client can't."""
    sent, expected = [], [value for kind, value in steps if kind == "recv"]
    for kind, value in steps:
        if kind == "send":
            try:
                message = json.loads(value)
            except ValueError:
                continue        # its reply has a null id, which no call waits for
            if not isinstance(message, dict) or message.get("method") in ("$/cancelRequest", "shutdown"):
                return None
            sent.append(message)
    if any(not isinstance(m, dict) for m in expected):
        return None     # batches
    if any(isinstance(m.get("error"), dict) and
           m["error"].get("code") in (lmd_client.SERVER_BUSY, lmd_client.REQUEST_CANCELLED) for m in expected):
        return None
    calls = []
    for message in sent:
        if "id" not in message:
            continue
        # A client sends only well-formed requests: an int id, a string method, object params.
        if not isinstance(message.get("id"), int) or isinstance(message.get("id"), bool) or \
                not isinstance(message.get("method"), str) or message.get("jsonrpc") != "2.0" or \
                not isinstance(message.get("params", {}), dict) or set(message) - {"jsonrpc", "id", "method", "params"}:
            continue
        responses = [m for m in expected if not is_notification(m) and m.get("id") == message["id"]]
        if len(responses) != 1:
            continue
        notes = [m for m in expected if is_notification(m) and isinstance(m.get("params"), dict)
                 and m["params"].get("id") == message["id"]]
        calls.append((message["method"], message.get("params"), responses[0], notes))
    return calls


class TranscriptTests(unittest.TestCase):
    """Every protocol/examples/*.jsonl, replayed through the Python client."""

    def transcripts(self):
        paths = sorted(glob.glob(os.path.join(TRANSCRIPTS, "*.jsonl")))
        if not paths:
            self.skipTest("no transcripts in %s yet" % TRANSCRIPTS)
        return paths

    def test_transcripts_raw(self):
        """Each transcript's lines sent as they are; the replies match (by id; notifications in order)."""
        for path in self.transcripts():
            with self.subTest(transcript=os.path.basename(path)):
                args, steps = read_transcript(path)
                with Client(daemon_socket(args)) as client:
                    problems = replay_raw(client, steps)
                if any(kind == "send" and '"shutdown"' in value for kind, value in steps):
                    # That daemon is stopping: wait for it, so that the next transcript gets a new one.
                    process = _daemons.pop(tuple(args))[0]
                    try:
                        process.wait(60)
                    except subprocess.TimeoutExpired:
                        problems.append("lmd did not exit within 60 s of shutdown")
                        stop_process(process)
                self.assertEqual(problems, [], "\n".join(problems))

    def test_transcripts_typed(self):
        """Each request of a transcript that stands alone, made with call() or complete_stream(): the result,
        the LMDError and the streamed deltas are what the transcript says."""
        replayed = 0
        for path in self.transcripts():
            args, steps = read_transcript(path)
            calls = typed_calls(steps)
            if not calls:
                continue
            with Client(daemon_socket(args)) as client:
                for number, (method, params, response, notes) in enumerate(calls):
                    with self.subTest(transcript=os.path.basename(path), call=number, method=method):
                        replayed += 1
                        deltas, own_id = [], None
                        try:
                            if method == "complete" and params and params.get("stream") is True:
                                pending = client.request(method, params)
                                own_id = pending.id
                                while True:
                                    delta = pending.next_event(60)
                                    if delta is None:
                                        break
                                    deltas.append(delta)
                                actual = {"jsonrpc": "2.0", "id": response["id"], "result": pending.result(0)}
                            else:
                                actual = {"jsonrpc": "2.0", "id": response["id"], "result": client.call(method, params)}
                        except LMDError as error:
                            body = {"code": error.code, "message": error.message}
                            if error.data is not None:
                                body["data"] = error.data
                            actual = {"jsonrpc": "2.0", "id": response["id"], "error": body}
                        problems = differences(response, actual, "%s %s" % (method, number))
                        for i, note in enumerate(notes):
                            if i >= len(deltas):
                                problems.append("delta %d missing" % i)
                            else:
                                # The client numbers its own requests: the delta carries that id.
                                problems += differences(dict(note["params"], id=own_id), deltas[i], "delta %d" % i)
                        if len(deltas) > len(notes):
                            problems.append("%d unexpected deltas" % (len(deltas) - len(notes)))
                        self.assertEqual(problems, [], "\n".join(problems))
        if replayed == 0:
            self.skipTest("no transcript has requests that stand alone")


class CompareTests(unittest.TestCase):
    """The transcript matcher itself: it must tell a match from a mismatch."""

    def test_numbers_within_tolerance(self):
        self.assertEqual(differences({"a": [1.0, 2.0]}, {"a": [1.00005, 2.0]}, "r"), [])
        self.assertEqual(len(differences({"a": [1.0, 2.0]}, {"a": [1.001, 2.0]}, "r")), 1)
        self.assertEqual(differences({"p": 1000.0}, {"p": 1000.05}, "r"), [])      # relative
        self.assertEqual(len(differences({"s": "x"}, {"s": "y"}, "r")), 1)
        self.assertEqual(len(differences({"b": True}, {"b": 1}, "r")), 1)
        self.assertEqual(len(differences({"a": 1}, {"a": 1, "b": 2}, "r")), 1)
        self.assertEqual(len(differences({"a": 1, "b": 2}, {"a": 1}, "r")), 1)

    def test_base64_logits(self):
        pack = lambda *v: base64.b64encode(struct.pack("<%df" % len(v), *v)).decode()  # noqa: E731
        self.assertEqual(differences({"logits_base64": pack(1.0, -2.5)}, {"logits_base64": pack(1.00001, -2.5)}, "r"), [])
        self.assertEqual(len(differences({"logits_base64": pack(1.0, -2.5)}, {"logits_base64": pack(1.0, -2.4)}, "r")), 1)
        self.assertEqual(len(differences({"logits_base64": pack(1.0)}, {"logits_base64": pack(1.0, 2.0)}, "r")), 1)

    def test_responses_by_id_notifications_by_order(self):
        expected = [{"id": 1, "result": 1}, {"method": "n", "params": 1}, {"id": 2, "result": 2},
                    {"method": "n", "params": 2}]
        self.assertEqual(compare_messages(expected, [expected[2], expected[1], expected[3], expected[0]]), [])
        self.assertNotEqual(compare_messages(expected, [expected[0], expected[3], expected[1], expected[2]]), [])
        self.assertNotEqual(compare_messages(expected, expected[:3]), [])
        self.assertNotEqual(compare_messages(expected, expected + [{"id": 3, "result": 3}]), [])
        # Ids compare with their type: 1 is not "1".
        self.assertNotEqual(compare_messages([{"id": 1, "result": 0}], [{"id": "1", "result": 0}]), [])

    def test_reads_transcript_format(self):
        path = os.path.join(_folder, "t.jsonl")
        with open(path, "w") as f:
            f.write('{"comment": "c", "daemon_args": ["--add-prefix-space"]}\n{"send": {"id": 1}}\n'
                    '{"send_raw": "{bad"}\n{"recv": {"id": 1}}\n\n')
        args, steps = read_transcript(path)
        self.assertEqual(args, ["--add-prefix-space"])
        self.assertEqual(steps, [("send", '{"id":1}'), ("send", "{bad"), ("recv", {"id": 1})])
        with open(path, "w") as f:
            f.write('{"send": 1}\n{"oops": 2}\n')
        with self.assertRaises(AssertionError):
            read_transcript(path)


class ClientTests(unittest.TestCase):
    """The client's methods, streaming, cancelling and errors against the daemon."""

    @classmethod
    def setUpClass(cls):
        cls.socket = daemon_socket()

    def setUp(self):
        self.lm = Client(self.socket, timeout=120)

    def tearDown(self):
        self.lm.close()

    def test_default_socket_path(self):
        self.assertEqual(default_socket_path({"XDG_RUNTIME_DIR": "/run/user/7"}), "/run/user/7/lmd.sock")
        self.assertEqual(default_socket_path({}, uid=7), "/tmp/lmd-7/lmd.sock")
        self.assertEqual(default_socket_path({"XDG_RUNTIME_DIR": ""}, uid=8), "/tmp/lmd-8/lmd.sock")

    def test_info(self):
        info = self.lm.info()
        with open(os.path.join(LMD_MODEL, "config.json")) as f:
            config = json.load(f)
        self.assertEqual(info["vocab_size"], config["vocab_size"])
        self.assertEqual(info["n_positions"], config["n_positions"])
        self.assertEqual(info["n_layer"], config["n_layer"])

    def test_tokenize_against_reference_cases(self):
        # The notebook's numbers, then the first reference cases (HF's tokenizer) both ways.
        self.assertEqual(self.lm.tokenize("This weekend I plan to", add_prefix_space=True)["ids"],
                         [770, 5041, 314, 1410, 284])
        self.assertEqual(self.lm.detokenize([467])["text"], " go")
        with open(os.path.join(FIXTURES, "tokenizer-cases.jsonl"), encoding="utf-8") as f:
            cases = [json.loads(line) for line in f if line.strip()][:40]
        self.assertTrue(cases)
        for case in cases:
            with self.subTest(text=case["text"][:40]):
                self.assertEqual(self.lm.tokenize(case["text"])["ids"], case["ids"])
                self.assertEqual(self.lm.tokenize(case["text"], add_prefix_space=True)["ids"], case["ids_prefix_space"])
                self.assertEqual(self.lm.detokenize(case["ids"])["text"], case["text"])

    def expected_cases(self):
        with open(os.path.join(FIXTURES, "tiny-gpt2-expected", "expected.json"), encoding="utf-8") as f:
            return json.load(f)["cases"]

    def test_topk_and_greedy_against_reference(self):
        for case in self.expected_cases():
            with self.subTest(prompt=case["prompt"][:30], prefix_space=case["add_prefix_space"]):
                top = self.lm.topk(case["prompt"], k=20, add_prefix_space=case["add_prefix_space"])
                want = case["top20"]
                # Neighbours closer than 1e-3 may come in either order: compare probabilities by rank, ids as sets.
                for got, expected in zip(top["probs"], want["probs"]):
                    self.assertAlmostEqual(got, expected, delta=1e-3)
                for got, expected in zip(top["logits"], want["logits"]):
                    self.assertAlmostEqual(got, expected, delta=1e-3)
                if want["min_gap"] > 1e-3:
                    self.assertEqual(top["ids"], want["ids"])
                    self.assertEqual(top["tokens"], want["tokens"])
                else:
                    self.assertEqual(sorted(top["ids"]), sorted(want["ids"]))
                greedy = self.lm.complete(ids=case["ids"], max_tokens=16)
                self.assertEqual(greedy["ids"], case["greedy16"]["ids"])
                self.assertEqual(greedy["text"], case["greedy16"]["text"])
                self.assertEqual(greedy["finish_reason"], "length")

    def test_forward_encodings_agree(self):
        as_json = self.lm.forward("I wish I were", positions="last")
        as_base64 = self.lm.forward("I wish I were", positions="last", encoding="base64")
        self.assertEqual(as_json["shape"], as_base64["shape"])
        self.assertIn("logits_base64", as_base64)
        rows_json, rows_b64 = decode_logits(as_json), decode_logits(as_base64)
        self.assertEqual(len(rows_json), 1)
        self.assertEqual(len(rows_b64[0]), self.lm.info()["vocab_size"])
        worst = max(abs(a - b) for a, b in zip(rows_json[0], rows_b64[0]))
        self.assertLess(worst, 1e-4)
        # The best logit is topk's first.
        top = self.lm.topk("I wish I were", k=1)
        best = max(range(len(rows_b64[0])), key=rows_b64[0].__getitem__)
        self.assertEqual(best, top["ids"][0])
        self.assertAlmostEqual(rows_b64[0][best], top["logits"][0], delta=1e-3)

    def test_stream_matches_plain_completion(self):
        plain = self.lm.complete("Once upon a time", max_tokens=12, temperature=0.9, seed=7)
        stream = self.lm.complete_stream("Once upon a time", max_tokens=12, temperature=0.9, seed=7)
        deltas = list(stream)
        self.assertGreaterEqual(len(deltas), 1)
        self.assertTrue(all(d["id"] == stream.id for d in deltas))
        self.assertEqual([i for d in deltas for i in d["ids"]], plain["ids"])
        self.assertEqual("".join(d["text"] for d in deltas), plain["text"])
        self.assertEqual(stream.text, plain["text"])
        self.assertEqual(stream.result, plain)

    def test_stream_stop_string(self):
        full = self.lm.complete("Hello", max_tokens=10)
        self.assertGreater(len(full["text"]), 4)
        stop = full["text"][3:6]
        stream = self.lm.complete_stream("Hello", max_tokens=10, stop=[stop])
        text = "".join(d["text"] for d in stream)
        self.assertEqual(stream.result["finish_reason"], "stop")
        self.assertEqual(text, full["text"][:full["text"].index(stop)])

    def test_cancel_running_stream(self):
        stream = self.lm.complete_stream("Hello", max_tokens=120)
        first = next(stream)
        self.assertEqual(len(first["ids"]), 1)
        stream.cancel()
        with self.assertRaises(LMDError) as caught:
            for _ in stream:
                pass
        self.assertEqual(caught.exception.code, lmd_client.REQUEST_CANCELLED)
        # The connection is still good afterwards.
        self.assertEqual(self.lm.tokenize("ok")["tokens"], ["ok"])

    def test_cancel_queued_request_by_id(self):
        # With --max-batch 1 lmd computes one model request at a time: the second surely waits behind the
        # first, and is cancelled there.
        try:
            socket_path = daemon_socket(["--max-batch", "1"])
        except LMDStartError as error:
            self.skipTest("this lmd cannot run one request at a time (%s)" % error)
        self.lm.close()
        self.lm = Client(socket_path, timeout=120)
        running = self.lm.request("complete", {"text": "Hello", "max_tokens": 120, "stream": True})
        running.next_event(60)
        queued = self.lm.request("topk", {"text": "never run", "k": 3})
        self.lm.cancel(queued.id)
        with self.assertRaises(LMDError) as caught:
            queued.result(30)
        self.assertEqual(caught.exception.code, lmd_client.REQUEST_CANCELLED)
        self.assertFalse(running.done(), "the long completion should still be running")
        running.cancel()
        with self.assertRaises(LMDError) as caught:
            running.result(60)
        self.assertEqual(caught.exception.code, lmd_client.REQUEST_CANCELLED)

    def test_closing_a_stream_early_cancels_it(self):
        with self.lm.complete_stream("Hello", max_tokens=120) as stream:
            next(stream)
        self.assertTrue(stream._pending.done())
        started = time.monotonic()
        self.assertEqual(len(self.lm.topk("Hello", k=2)["ids"]), 2)
        self.assertLess(time.monotonic() - started, 30)

    def test_errors_are_typed(self):
        with self.assertRaises(LMDError) as caught:
            self.lm.call("no_such_method")
        self.assertEqual(caught.exception.code, lmd_client.METHOD_NOT_FOUND)
        with self.assertRaises(LMDError) as caught:
            self.lm.topk("x", k=0)
        self.assertEqual(caught.exception.code, lmd_client.INVALID_PARAMS)
        self.assertEqual(caught.exception.data.get("param"), "k")
        with self.assertRaises(LMDError) as caught:
            self.lm.detokenize([10 ** 6])
        self.assertEqual(caught.exception.code, lmd_client.INVALID_PARAMS)
        self.assertIn("10", str(caught.exception))
        with self.assertRaises(ValueError):
            self.lm.tokenize()
        # A line that is not JSON gets an error with a null id: no call owns it.
        self.lm.send_raw("{not json")
        stray = self.lm.next_unclaimed(30)
        self.assertIsNone(stray["id"])
        self.assertEqual(stray["error"]["code"], lmd_client.PARSE_ERROR)
        self.assertEqual(self.lm.info()["vocab_size"], 50257)

    def test_calls_from_many_threads_share_one_connection(self):
        texts = ["The %s" % word for word in ("cat", "dog", "sea", "sky", "sun", "moon", "tree", "road")]
        want = {t: self.lm.topk(t, k=3)["ids"] for t in texts}
        got, failures = {}, []

        def worker(text):
            try:
                for _ in range(3):
                    got.setdefault(text, []).append(self.lm.topk(text, k=3)["ids"])
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(error)

        threads = [threading.Thread(target=worker, args=(t,)) for t in texts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(failures, [])
        for text in texts:
            self.assertEqual(got[text], [want[text]] * 3)

    def test_timeout_cancels_the_request(self):
        with self.assertRaises(TimeoutError):
            self.lm.call("complete", {"text": "Hello", "max_tokens": 120}, timeout=0.05)
        # The cancelled completion does not hold the lane: the next call is answered.
        self.assertEqual(len(self.lm.topk("Hello", k=1)["ids"]), 1)

    def test_suggest(self):
        try:
            suggestions = self.lm.suggest("I wish I we", n=4)
        except LMDError as error:
            if error.code == lmd_client.METHOD_NOT_FOUND:
                self.skipTest("this lmd has no suggest method yet")
            raise
        self.assertGreaterEqual(len(suggestions), 1)
        self.assertLessEqual(len(suggestions), 4)
        for s in suggestions:
            self.assertEqual(set(s), {"insert", "label", "logprob", "ids"})
            self.assertLessEqual(s["logprob"], 0)
            self.assertTrue(s["ids"])
            # The first id re-types what healing took back; the rest is exactly what to insert.
            self.assertTrue(self.lm.detokenize(s["ids"])["text"].endswith(s["insert"]))
            self.assertTrue(s["label"].endswith(s["insert"].rstrip()) or s["insert"].strip() == "")
        self.assertEqual(self.lm.suggest("I wish I we", n=4), suggestions)   # deterministic
        full = self.lm.suggest("I wish I we", n=4, full=True)
        self.assertEqual(full["suggestions"], suggestions)
        # Healing took back the unfinished word, and every suggestion re-types it first.
        self.assertTrue("I wish I we".endswith(full["healed"]))
        for s in suggestions:
            self.assertEqual(self.lm.detokenize(s["ids"])["text"], full["healed"] + s["insert"])
        with self.assertRaises(LMDError) as caught:
            self.lm.suggest("x", stop_at="sentence")
        self.assertEqual(caught.exception.code, lmd_client.INVALID_PARAMS)


class DaemonStartTests(unittest.TestCase):
    """Auto-start, connection errors, shutdown and a lost connection."""

    def test_no_daemon_and_no_model(self):
        with self.assertRaises(LMDConnectionError):
            Client(os.path.join(_folder, "nobody.sock"))

    def test_start_failure_is_reported(self):
        with self.assertRaises(LMDStartError) as caught:
            Client(os.path.join(_folder, "bad.sock"), model=os.path.join(_folder, "no-such-model"),
                   lmd_bin=LMD_BIN, start_timeout=60)
        self.assertIn("bad.sock.log", str(caught.exception))
        with self.assertRaises(LMDStartError):
            Client(os.path.join(_folder, "bad2.sock"), model=LMD_MODEL, lmd_bin=os.path.join(_folder, "no-lmd"))

    def test_two_clients_start_at_once(self):
        path = os.path.join(_folder, "race", "lmd.sock")
        clients, failures = [], []

        def connect():
            try:
                clients.append(Client(path, model=LMD_MODEL, lmd_bin=LMD_BIN, start_timeout=120))
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(error)

        threads = [threading.Thread(target=connect) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        try:
            self.assertEqual(failures, [])
            self.assertEqual(len(clients), 2)
            self.assertEqual(clients[0].topk("Hi", k=3), clients[1].topk("Hi", k=3))
        finally:
            started = [c.daemon for c in clients if c.daemon is not None]
            for c in clients:
                c.close()
            for process in started:
                stop_process(process)

    def test_autostart_then_shutdown(self):
        path = os.path.join(_folder, "auto", "lmd.sock")
        lm = Client(path, model=LMD_MODEL, lmd_bin=LMD_BIN, start_timeout=120)
        try:
            self.assertIsNotNone(lm.daemon)
            self.assertEqual(os.stat(os.path.dirname(path)).st_mode & 0o777, 0o700)
            self.assertEqual(lm.info()["vocab_size"], 50257)
            # A second client finds it running and starts nothing.
            with Client(path, model=LMD_MODEL, lmd_bin=LMD_BIN) as other:
                self.assertIsNone(other.daemon)
                self.assertEqual(other.topk("Hi", k=2), lm.topk("Hi", k=2))
                self.assertIsNone(lm.shutdown())
                self.assertEqual(lm.daemon.wait(60), 0)
                # Every connection is gone with the daemon: calls fail at once, they do not hang.
                with self.assertRaises(LMDConnectionError):
                    other.call("info", timeout=60)
            with self.assertRaises(LMDConnectionError):
                lm.call("info", timeout=30)
        finally:
            lm.close(stop_daemon=True)


def main():
    """Runs every test; the last line is "python: N passed, N failed[, N skipped]" (subtests counted one by one)."""
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(
        unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__]))
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    failed_tests = {id(t) for t, _ in result.failures + result.errors}
    passed = max(0, result.testsRun - len(failed_tests) - skipped)
    print("python: %d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
