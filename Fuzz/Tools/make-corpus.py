#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/Corpus/<target>/ (the committed files are its output).

Seeds are small valid inputs the fuzzer starts from:
  FuzzFrameDecoder  control bytes + streams of real frames (captured Python handshakes and calls)
  FuzzMessageCodec  native requests, responses and hellos, encoded as docs/PROTOCOL.md §4 says
  FuzzHandshake     control byte + nonce + the peer's frames: captured Python sessions replayed
                    against either role, and handshakes with every digest, made with hmac here
  FuzzPickle        pickles from the captured sessions, protocols 0-5 from this Python, and
                    Python 2.7 pickles (kept as hex below)
  FuzzManagerWire   manager requests and replies from the captured sessions, and queue calls

Standard library only. Run from anywhere: python3 Fuzz/Tools/make-corpus.py
Rewrites every Fuzz/Corpus/<target>/ directory; Fuzz/Regressions/ is left alone.
"""
import collections
import datetime
import decimal
import fractions
import hashlib
import hmac
import json
import pathlib
import pickle
import shutil
import struct

FUZZ = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = FUZZ.parent / "Tests" / "Fixtures" / "python-managers"
KEY = b"abc"  # the authkey of the captured sessions (and of FuzzHandshake)

corpora = collections.defaultdict(dict)


def seed(target, name, data):
    assert len(data) <= 4096, (target, name, len(data))
    corpora[target][name] = bytes(data)


def session(name):
    with open(FIXTURES / f"{name}.json") as f:
        return json.load(f)


def frames_of(messages):
    """Whole frames (4-byte length header included) of the given captured messages."""
    return [bytes.fromhex(m["hex"]) for m in messages]


def payload(message):
    return bytes.fromhex(message["hex"])[4:]


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


# MARK: FuzzFrameDecoder: 2 bytes maximum + flags, 2 bytes split point, then the stream


def frame_control(maximum, byte_by_byte=False, discard=False, raise_after_first=False, split=0):
    flags = (maximum >> 8) & 0x03
    flags |= 0x04 if byte_by_byte else 0
    flags |= 0x08 if discard else 0
    flags |= 0x10 if raise_after_first else 0
    return bytes([maximum & 0xFF, flags]) + struct.pack(">H", split)


def make_frame_decoder():
    worker = session("worker_s3.13_c3.13")
    legacy = session("worker_s3.11_c3.11")
    conn1 = [m for m in worker["messages"] if m["conn"] == 1]
    c2s = b"".join(frames_of(m for m in conn1 if m["dir"] == "c2s"))
    s2c = b"".join(frames_of(m for m in conn1 if m["dir"] == "s2c"))
    handshake = b"".join(frames_of(m for m in conn1 if m["kind"].startswith("auth")))
    legacy_c2s = b"".join(frames_of(m for m in legacy["messages"] if m["conn"] == 1 and m["dir"] == "c2s"))
    seed("FuzzFrameDecoder", "python-client-conn1-max256", frame_control(256, split=17) + c2s)
    seed("FuzzFrameDecoder", "python-server-conn1-max256-raised", frame_control(256, raise_after_first=True, split=70) + s2c)
    seed("FuzzFrameDecoder", "python-handshake-byte-by-byte", frame_control(256, byte_by_byte=True) + handshake)
    seed("FuzzFrameDecoder", "python-handshake-discard", frame_control(64, discard=True, split=3) + handshake)
    seed("FuzzFrameDecoder", "python311-client-conn1", frame_control(1023, split=2) + legacy_c2s)
    seed("FuzzFrameDecoder", "empty-frames", frame_control(0, split=5) + frame(b"") * 3)
    seed("FuzzFrameDecoder", "long-form", frame_control(16, split=6) + b"\xff\xff\xff\xff" + struct.pack(">Q", 5) + b"hello")
    seed("FuzzFrameDecoder", "long-form-too-large", frame_control(16) + b"\xff\xff\xff\xff" + struct.pack(">Q", 17))
    seed("FuzzFrameDecoder", "long-form-huge", frame_control(16) + b"\xff\xff\xff\xff" + b"\xff" * 8)
    seed("FuzzFrameDecoder", "negative-length", frame_control(16) + b"\xff\xff\xff\xfe")
    seed("FuzzFrameDecoder", "int32-min-length", frame_control(16) + b"\x80\x00\x00\x00")
    seed("FuzzFrameDecoder", "exactly-the-maximum", frame_control(8, split=4) + frame(b"12345678") + frame(b"x"))
    seed("FuzzFrameDecoder", "one-over-the-maximum", frame_control(8) + frame(b"123456789"))
    seed("FuzzFrameDecoder", "partial-header", frame_control(8, split=1) + b"\x00\x00")
    seed("FuzzFrameDecoder", "partial-payload", frame_control(8, split=6) + frame(b"abc") + b"\x00\x00\x00\x05ab")
    seed("FuzzFrameDecoder", "raise-after-handshake", frame_control(4, raise_after_first=True, discard=True, split=9) + frame(b"ok") + frame(b"x" * 300))


# MARK: FuzzMessageCodec: frame payloads as docs/PROTOCOL.md §4 and Sources/TaskWire/Messages encode them

u8 = lambda v: struct.pack(">B", v)
u16 = lambda v: struct.pack(">H", v)
u32 = lambda v: struct.pack(">I", v)
u64 = lambda v: struct.pack(">Q", v)


def wstr(text):
    data = text.encode()
    return u16(len(data)) + data


def ids(values):
    return u32(len(values)) + b"".join(u64(v) for v in values)


def items(values):  # [(reference, payload)]
    return u32(len(values)) + b"".join(u64(ref) + u32(len(p)) + p for ref, p in values)


def header(kind, request_id):
    return u8(1) + u8(kind) + u32(request_id)


def make_message_codec():
    int7 = pickle.dumps(7, 4)
    text = pickle.dumps("7 * 7 = 49", 4)
    big = pickle.dumps(2**100, 4)
    s = lambda name, data: seed("FuzzMessageCodec", name, data)
    # Hellos
    s("hello-worker", b"TMQP" + u8(1) + wstr("task-worker 1234@host-b"))
    s("hello-master", b"TMQP" + u8(1) + wstr("task-master"))
    s("hello-newer-version-unicode", b"TMQP" + u8(2) + wstr("wörker ✓"))
    # Requests
    s("request-put", header(0x01, 1) + wstr("task") + u32(0) + items([(0, int7), (0, big)]))
    s("request-put-wait-forever", header(0x01, 2) + wstr("task") + u32(0xFFFFFFFF) + items([(0, int7)]))
    s("request-get", header(0x02, 3) + wstr("task") + u32(16) + u32(1000))
    s("request-ack", header(0x03, 4) + wstr("task") + ids([1, 2, 3]))
    s("request-nack", header(0x04, 5) + wstr("task") + ids([2**64 - 1]))
    s("request-complete", header(0x05, 6) + wstr("task") + ids([1, 2]) + wstr("result") + items([(1, text), (2, text)]))
    s("request-stats", header(0x06, 7))
    s("request-ping", header(0x07, 0xFFFFFFFF))
    s("request-heartbeat", header(0x08, 8) + u64(10) + u64(1) + u64(3600))
    s("request-peek", header(0x09, 9) + wstr("task.dead") + u32(10))
    s("request-maintain-requeue", header(0x0A, 10) + wstr("task") + u8(1))
    s("request-maintain-purge", header(0x0A, 11) + wstr("task") + u8(2))
    # Responses
    s("response-put-accepted", header(0x81, 1) + ids([1, 2]))
    s(
        "response-deliveries",
        header(0x82, 3) + u32(2) + u64(1) + u32(1) + u64(0) + u32(len(int7)) + int7
        + u64(2) + u32(3) + u64(7) + u32(len(big)) + big,
    )
    s("response-acknowledged", header(0x83, 4) + u32(2) + ids([3]))
    s("response-completed", header(0x84, 6) + u32(2) + ids([]) + ids([10, 11]))
    queue = lambda name, counters: wstr(name) + b"".join(u64(c) for c in counters)
    client = lambda kind, address, name, leased, connected, report: (
        u8(kind) + wstr(address) + wstr(name) + u64(leased) + u64(connected)
        + (u8(1) + b"".join(u64(v) for v in report) if report else u8(0))
    )
    s(
        "response-statistics",
        header(0x85, 7) + u64(3600)
        + u32(2) + queue("task", range(10)) + queue("result", [0] * 10)
        + u32(2) + client(1, "127.0.0.1:5001", "task-worker 1@b", 3, 60, (10, 1, 59, 2))
        + client(2, "[::1]:5002", "", 0, 5, None),
    )
    s("response-statistics-empty", header(0x85, 7) + u64(0) + u32(0) + u32(0))
    s("response-pong", header(0x86, 0xFFFFFFFF))
    s("response-error-queue-full", header(0xFF, 1) + u16(4) + wstr("queue 'task' is full") + ids([1, 2]))
    s("response-error-unknown-code", header(0xFF, 0) + u16(999) + wstr("") + ids([]))


# MARK: FuzzHandshake: flags, 40-byte nonce, then the peer's frames

SERVER, CLIENT, LEGACY, CLOSES = 0x00, 0x01, 0x02, 0x04
DIGESTS = {"md5": hashlib.md5, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
           "sha3_256": hashlib.sha3_256, "sha3_384": hashlib.sha3_384}


def answer(message, digest="sha256", key=KEY, raw=False):
    mac = hmac.new(key, message, DIGESTS[digest]).digest()
    return mac if raw else b"{" + digest.encode() + b"}" + mac


def challenge_message(nonce, digest="sha256"):
    return b"{" + digest.encode() + b"}" + nonce


def handshake_seed(name, flags, nonce, frames):
    assert len(nonce) == 40
    seed("FuzzHandshake", name, bytes([flags]) + nonce + b"".join(frame(f) for f in frames))


def captured_nonce(message):
    """The 40 random bytes of a captured {sha256} challenge frame, if it is one."""
    if message is None:
        return None
    body = payload(message)[len(b"#CHALLENGE#"):]
    return body[len(b"{sha256}"):] if body.startswith(b"{sha256}") and len(body) == 48 else None


def make_handshake():
    for name in ["worker_s3.13_c3.13", "worker_s3.13_c3.11", "worker_s3.11_c3.13", "badkey_s3.13_c3.13"]:
        conn1 = [m for m in session(name)["messages"] if m["conn"] == 1]
        # The first pickle after the handshake is included: it must not disturb a finished machine.
        upto = next(i for i, m in enumerate(conn1) if m["kind"] == "pickle") + 1
        conn1 = conn1[:upto]
        # This side as the Python server: its nonce, and what the Python client sent.
        server_nonce = captured_nonce(next((m for m in conn1 if m["dir"] == "s2c" and m["kind"] == "auth-challenge"), None))
        if server_nonce:
            handshake_seed(f"python-{name}-as-server", SERVER | LEGACY, server_nonce,
                           [payload(m) for m in conn1 if m["dir"] == "c2s"])
        # This side as the Python client: its nonce, and what the Python server sent.
        client_nonce = captured_nonce(next((m for m in conn1 if m["dir"] == "c2s" and m["kind"] == "auth-challenge"), None))
        handshake_seed(f"python-{name}-as-client", CLIENT | LEGACY | CLOSES, client_nonce or bytes(40),
                       [payload(m) for m in conn1 if m["dir"] == "s2c"])

    ours = bytes(range(40))        # this side's nonce in the seeds below
    theirs = bytes(range(40, 80))  # the peer's
    welcome, failure, tag = b"#WELCOME#", b"#FAILURE#", b"#CHALLENGE#"
    mine = challenge_message(ours)
    # This side as server: the client answers with each digest, then challenges with each.
    for digest in DIGESTS:
        handshake_seed(f"server-{digest}", SERVER | LEGACY, ours, [
            answer(mine, digest), tag + challenge_message(theirs, digest), welcome])
    handshake_seed("server-raw-md5-answer", SERVER | LEGACY, ours, [
        answer(mine, "md5", raw=True), tag + theirs[:20], welcome])
    handshake_seed("server-md5-refused", SERVER, ours, [answer(mine, "md5")])
    handshake_seed("server-wrong-key", SERVER | LEGACY, ours, [answer(mine, key=b"wrongkey")])
    handshake_seed("server-client-says-failure", SERVER | LEGACY | CLOSES, ours, [
        answer(mine), tag + challenge_message(theirs), failure])
    handshake_seed("server-no-challenge", SERVER | LEGACY, ours, [answer(mine), welcome])
    handshake_seed("server-short-challenge", SERVER | LEGACY, ours, [answer(mine), tag + b"{sha256}"])
    # This side as client: the server challenges with each digest, welcomes, and answers.
    for digest in DIGESTS:
        handshake_seed(f"client-{digest}", CLIENT | LEGACY, ours, [
            tag + challenge_message(theirs, digest), welcome, answer(mine, digest)])
    handshake_seed("client-legacy-challenge", CLIENT | LEGACY, ours, [
        tag + theirs[:20], welcome, answer(mine, "md5", raw=True)])
    handshake_seed("client-legacy-refused", CLIENT | CLOSES, ours, [tag + theirs[:20]])
    handshake_seed("client-server-says-failure", CLIENT | LEGACY, ours, [tag + challenge_message(theirs), failure])
    handshake_seed("client-wrong-server-key", CLIENT | LEGACY, ours, [
        tag + challenge_message(theirs), welcome, answer(mine, key=b"wrongkey")])
    handshake_seed("client-unknown-digest", CLIENT | LEGACY, ours, [tag + challenge_message(theirs, "sha512")])


# MARK: FuzzPickle and FuzzManagerWire

# Python 2.7 pickles (pickle.dumps(value, protocol)): STRING/BINSTRING, UNICODE, text INT and
# LONG, and Python 2 names (__builtin__, exceptions) that the reader renames.
PYTHON2 = {
    "py2-str-p0": "5327616263270a70300a2e",
    "py2-unicode-p0": "5668e96c6c6f205c75323731330a70300a2e",
    "py2-long-p0": "4c31323334353637383930313233343536373839304c0a2e",
    "py2-dict-p0": "286470300a532761270a70310a286c70320a49310a6146322e350a614e614930310a6173532762270a70330a2856780a70340a532779270a70350a7470360a732e",
    "py2-dict-p1": "7d71002855016171015d7102284b014740040000000000004e4930310a6555016271032858010000007871045501797105747106752e",
    "py2-ordereddict-p2": "800263636f6c6c656374696f6e730a4f726465726564446963740a71005d71015d71022855016b71034b0165618571045271052e",
    "py2-set-p0": "635f5f6275696c74696e5f5f0a7365740a70300a28286c70310a49310a6149320a617470320a5270330a2e",
    "py2-datetime-p0": "636461746574696d650a6461746574696d650a70300a2853275c7830375c7865385c7830315c7830325c7830335c7830345c7830355c7830305c7830305c783036270a70310a7470320a5270330a2e",
    "py2-xrange-p1": "635f5f6275696c74696e5f5f0a7872616e67650a7100284b004b034b017471015271022e",
    "py2-exception-p2": "800263657863657074696f6e730a56616c75654572726f720a71005504626f6f6d71018571025271032e",
}


def python_values():
    recursive = [1]
    recursive.append(recursive)
    shared = [0]
    return {
        "compound": {"tasks": [(1, "a"), (2, "b")], "meta": {"ok": True, "n": None}, "f": 1.5},
        "scalars": (0, -1, 2**31, -(2**63), 2**64, 1e100, float("-inf"), b"\x00\xff", "héllo ✓ 😀"),
        "containers": ([], (), {}, set(), frozenset({1, 2}), bytearray(b"ab"), (1, 2, 3, 4)),
        "shared-and-recursive": ([shared, shared], recursive),
        "objects": (datetime.date(2024, 1, 2), decimal.Decimal("1.10"), fractions.Fraction(1, 3),
                    collections.OrderedDict(a=1), collections.deque([1, 2]), range(3), ValueError("boom", 3)),
    }


def make_pickles():
    for name, value in python_values().items():
        for protocol in range(6):
            if name == "compound" or protocol in (0, 2, 5):
                seed("FuzzPickle", f"py3-{name}-p{protocol}", pickle.dumps(value, protocol))
    for name, data in PYTHON2.items():
        seed("FuzzPickle", name, bytes.fromhex(data))
    # Out-of-band buffers, which the reader refuses.
    seed("FuzzPickle", "py3-out-of-band-p5",
         pickle.dumps(pickle.PickleBuffer(b"abc"), 5, buffer_callback=lambda _: False))
    # Values and replies from the captured sessions: every reply to a put, up to 1 KiB.
    misc = session("misc_s3.13_c3.13")["messages"]
    replies = [m for m in misc if m["kind"] == "pickle" and m["dir"] == "s2c" and m["note"].startswith("('#RETURN'")]
    taken = 0
    for m in replies:
        data = payload(m)
        if len(data) <= 1024 and data not in corpora["FuzzPickle"].values() and taken < 12:
            seed("FuzzPickle", f"python-reply-{taken:02}", data)
            taken += 1


def make_manager_wire():
    messages = []
    for name in ["misc_s3.13_c3.13", "worker_s3.13_c3.13", "misc_s3.11_c3.11"]:
        messages += [m for m in session(name)["messages"] if m["kind"] == "pickle"]
    # One of each method (requests) and of each reply kind, from the captured sessions.
    seen = set()
    for m in messages:
        note = m["note"]
        if m["dir"] == "c2s":
            # (ident, 'method', ...): the method, and for put/get the kind of argument.
            parts = note.split(", ", 3)
            key = ("request", parts[1] if len(parts) > 1 else note, "kw" if "{'" in note else "")
        else:
            key = ("reply", note.split(",", 1)[0], "")
        data = payload(m)
        if key in seen or len(data) > 2048:
            continue
        seen.add(key)
        kind = "request" if key[0] == "request" else "reply"
        label = "".join(c if c.isalnum() else "-" for c in key[1]).strip("-")
        seed("FuzzManagerWire", f"python-{kind}-{label}{'-kw' if key[2] else ''}", data)
    # Queue calls with every signature form.
    ident = "7f22d5a26190"
    calls = {
        "put-nowait": ("put_nowait", (5,), {}),
        "put-block-false": ("put", (5,), {"block": False}),
        "put-timeout-float": ("put", (5, True, 0.5), {}),
        "put-timeout-keyword-none": ("put", (), {"item": 5, "timeout": None}),
        "put-duplicate-item": ("put", (5,), {"item": 6}),
        "put-negative-timeout": ("put", (5,), {"timeout": -1}),
        "get-timeout-bigint": ("get", (), {"timeout": 2**70}),
        "get-timeout-str": ("get", (True, "1"), {}),
        "get-too-many": ("get", (True, 1, 2), {}),
        "task-done": ("task_done", (), {}),
        "join": ("join", (), {}),
        "empty": ("empty", (), {}),
        "full": ("full", (), {}),
    }
    for name, (method, args, kwds) in calls.items():
        seed("FuzzManagerWire", f"queue-call-{name}", pickle.dumps((ident, method, args, kwds), 4))


def main():
    make_frame_decoder()
    make_message_codec()
    make_handshake()
    make_pickles()
    make_manager_wire()
    for target, seeds in sorted(corpora.items()):
        directory = FUZZ / "Corpus" / target
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for name, data in seeds.items():
            (directory / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes")


if __name__ == "__main__":
    main()
