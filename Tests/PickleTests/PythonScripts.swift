/// The Python side of the round-trip tests, as source text (no resource files needed).
enum PythonScripts {
    /// Defines `corpus()` → [(name, value)] (deterministic) and `same(a, b)`, a comparison
    /// that follows shared references and cycles (identity must map one to one) and looks
    /// inside objects.
    static let common = #"""
        import collections, copyreg, datetime, decimal, enum, fractions, http, math, pickle, pickletools
        import random, struct, sys, types, uuid

        class Plain:
            def __init__(self, a, b):
                self.a = a; self.b = b

        class Slotted:
            __slots__ = ('x', 'y')
            def __init__(self, x, y):
                self.x = x; self.y = y

        class Node:
            """Rebuilt from its children list, which contains the node itself: a recursive REDUCE."""
            def __init__(self, children):
                self.children = children
            def __reduce__(self):
                return (Node, (self.children,))

        class MyError(Exception):
            pass

        Point = collections.namedtuple('Point', 'x y')

        def corpus():
            rnd = random.Random(1234)
            items = []
            def add(name, value):
                items.append((name, value))
            for n in [0, 1, 255, 256, 65535, 65536, -1, -2**31, 2**31 - 1, 2**31, -2**31 - 1, 2**63 - 1, -2**63,
                      2**63, -2**63 - 1, 2**64, 2**2000, -2**2000, 2**2040 - 1, -2**2040, 2**2100, -2**2100, 10**4299]:
                add('int %d bits' % n.bit_length(), n)
            for _ in range(60):
                bits = rnd.randint(1, 400)
                add('random int', rnd.randint(-2**bits, 2**bits))
            nan_payload = struct.unpack('>d', bytes.fromhex('7ff8000000000001'))[0]
            for f in [0.0, -0.0, 1.5, math.pi, float('inf'), float('-inf'), float('nan'), nan_payload, 5e-324, 1e308]:
                add('float %r' % f, f)
            add('True', True); add('False', False); add('None', None)
            for s in ['', 'a', 'hello', 'ünïcødé ☃ 𝄞', 'x' * 255, 'y' * 256, 'z' * 65535, 'w' * 65536, 'v' * 70000,
                      '\ud800 lone surrogate', '\x00\n\\', 'line\nbreak']:
                add('str %d' % len(s), s)
            for b in [b'', b'\x00\xff', bytes(range(256)), b'q' * 65536, b'p' * 70000]:
                add('bytes %d' % len(b), b)
            add('bytearray', bytearray(b'abc')); add('empty bytearray', bytearray()); add('big bytearray', bytearray(70000))
            for t in [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), (1, 'a', None, 2.5, b'b')]:
                add('tuple %d' % len(t), t)
            add('empty list', []); add('list 1', [1])
            add('list', [1, 'two', 3.0, None, [4, [5]]])
            add('list 1000', list(range(1000)))
            add('list 1001', list(range(1001)))
            add('list 2500 str', [str(i) for i in range(2500)])
            add('list 20000 str (several frames)', ['s%d' % i for i in range(20000)])
            add('list of large values', [b'a' * 70000, 'b' * 70000, 1, 'c' * 65536])
            add('empty dict', {}); add('dict 1', {'a': 1})
            add('dict', {'a': 1, 'b': [2, 3], 3: 'c', (1, 2): None})
            add('dict 1000', {i: i for i in range(1000)})
            add('dict 1500', {i: str(i) for i in range(1500)})
            add('empty set', set()); add('set 1', {1})
            add('set', {1, 2, 3, 'x'})
            add('set 1000', set(range(1000)))
            add('set 2000', set(range(2000)))
            add('set 2500', set(range(2500)))
            add('empty frozenset', frozenset())
            add('frozenset', frozenset([1, 2, (3, 4)]))
            add('frozenset 1500', frozenset(range(1500)))
            add('nested', {'k': [(1, 2), {'z': frozenset([1])}, [[[[]]]]]})
            add('deep list', eval('[' * 200 + ']' * 200))
            add('deep tuple', eval('(' * 200 + ')' * 200))
            shared = [1, 2]
            add('shared list', [shared, shared, (shared,)])
            s = 'shared string'
            add('shared str', (s, s, [s]))
            rec = [1]; rec.append(rec)
            add('recursive list', rec)
            d = {}; d['self'] = d
            add('recursive dict', d)
            lst = []; tup = (lst, 1); lst.append(tup)
            add('recursive tuple', tup)
            big = []; bigt = (big, 1, 2, 3, 4); big.append(bigt)
            add('recursive 5-tuple', bigt)
            n = Node([]); n.children.append(n)
            add('recursive reduce', n)
            p = Plain(1, None); p.b = p
            add('object referring to itself', p)
            add('OrderedDict', collections.OrderedDict([('b', 1), ('a', 2)]))
            add('deque', collections.deque([1, 2, 3], maxlen=5))
            add('deque 1001', collections.deque(range(1001)))
            add('deque 2500', collections.deque(range(2500)))
            add('defaultdict', collections.defaultdict(list, {'a': [1]}))
            add('Counter', collections.Counter('abracadabra'))
            add('datetime', datetime.datetime(2026, 11, 29, 3, 4, 5, 678))
            add('aware datetime', datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=2))))
            add('date', datetime.date(2020, 2, 29))
            add('date and datetime', [datetime.date(2020, 1, 1), datetime.datetime(2020, 1, 1)])
            add('timedelta', datetime.timedelta(days=1, seconds=2))
            add('Decimal', decimal.Decimal('3.14159'))
            add('Fraction', fractions.Fraction(22, 7))
            add('complex', complex(1.5, -2))
            add('range', range(3, 30, 3))
            add('namedtuple', Point(1, 2))
            add('uuid', uuid.UUID('12345678-1234-5678-1234-567812345678'))
            add('IntEnum', http.HTTPStatus.OK)
            add('plain object', Plain(1, [2, 'three']))
            add('two plain objects', [Plain(1, 2), Plain(3, 4)])
            add('slotted object', Slotted('x', (1, 2)))
            add('exception', ValueError('boom', 3))
            add('user exception', MyError('mine'))
            e = KeyError('k'); e.extra = [1]
            add('exception with state', e)
            add('class', int)
            add('function', len)
            add('same objects twice', [Point(1, 2)] * 2)
            return items

        ATOMIC = (int, str, bytes, bytearray, type(None), complex, range, decimal.Decimal, fractions.Fraction,
                  datetime.date, datetime.time, datetime.timedelta, datetime.tzinfo, uuid.UUID, enum.Enum, type,
                  types.BuiltinFunctionType, types.FunctionType, set, frozenset)

        def same(a, b, pairs=None):
            if pairs is None:
                pairs = {}
            if type(a) is not type(b):
                return False
            if isinstance(a, float):
                if math.isnan(a):
                    return math.isnan(b)
                return a == b and math.copysign(1, a) == math.copysign(1, b)
            if isinstance(a, ATOMIC):
                return a == b
            key = id(a)
            if key in pairs:
                return pairs[key] is b          # a shared value must stay shared
            pairs[key] = b
            if isinstance(a, (list, tuple, collections.deque)):
                if isinstance(a, collections.deque) and a.maxlen != b.maxlen:
                    return False
                return len(a) == len(b) and all(same(x, y, pairs) for x, y in zip(a, b))
            if isinstance(a, dict):
                if list(a.keys()) != list(b.keys()):
                    return False
                if isinstance(a, collections.defaultdict) and a.default_factory is not b.default_factory:
                    return False
                if not all(same(a[k], b[k], pairs) for k in a):
                    return False
            if isinstance(a, BaseException) and not same(a.args, b.args, pairs):
                return False
            if hasattr(a, '__dict__') and not same(vars(a), vars(b), pairs):
                return False
            for slot in getattr(type(a), '__slots__', ()):
                if not same(getattr(a, slot), getattr(b, slot), pairs):
                    return False
            return True
        """#

    /// Prints `index protocol exact hex` for every corpus value and protocol 0 to 5, where
    /// `exact` is 0 for the values whose protocol 4 bytes a reader can't reproduce.
    static let generate =
        common + #"""

            # Python builds Node's arguments tuple anew for each __reduce__ call, and the copy made
            # for the outer call is dropped from the pickle's result (REDUCE POP BINGET): a reader
            # sees one tuple and writes the cycle more briefly (the value is the same).
            NOT_EXACT = {'recursive reduce'}
            for i, (name, value) in enumerate(corpus()):
                for proto in range(6):
                    try:
                        data = pickle.dumps(value, proto)
                    except Exception:
                        continue    # e.g. a __slots__ class before protocol 2
                    print(i, proto, 0 if name in NOT_EXACT else 1, data.hex())
            """#

    /// Reads `index protocol hex` lines (Swift's rewrites), unpickles each and compares it
    /// with the corpus value; prints `FAIL …` lines and a `CHECKED n BAD m` summary.
    static let check =
        common + #"""

            items = corpus()
            bad = count = 0
            for line in sys.stdin:
                i, proto, data = line.split()
                name, value = items[int(i)]
                count += 1
                try:
                    got = pickle.loads(bytes.fromhex(data))
                except Exception as e:
                    print('FAIL', repr(name), 'protocol', proto, 'unpickling failed:', repr(e)); bad += 1; continue
                if not same(value, got):
                    print('FAIL', repr(name), 'protocol', proto, 'differs:', repr(got)[:200]); bad += 1
            print('CHECKED', count, 'BAD', bad)
            """#

    /// Reads `index original-hex rewritten-hex` lines (the hand-written opcode samples and
    /// Swift's rewrites), prints `OPS index NAME,NAME,…` (the opcodes Python sees in the
    /// original) and `FAIL …` where Python loads the two differently; then `SAMPLES n BAD m`.
    static let samples =
        common + "\n" + OpcodeSample.pythonExtensions + #"""

            import argparse
            bad = count = 0
            for line in sys.stdin:
                i, original, rewritten = line.split()
                original, rewritten = bytes.fromhex(original), bytes.fromhex(rewritten)
                count += 1
                print('OPS', i, ','.join(sorted({op.name for op, arg, pos in pickletools.genops(original)})))
                try:
                    a, b = pickle.loads(original), pickle.loads(rewritten)
                except Exception as e:
                    print('FAIL', i, 'unpickling failed:', repr(e)); bad += 1; continue
                if isinstance(a, argparse.Namespace):
                    ok = type(b) is argparse.Namespace and vars(a) == vars(b)
                else:
                    ok = same(a, b)
                if not ok:
                    print('FAIL', i, 'differs:', repr(a)[:100], repr(b)[:100]); bad += 1
            print('SAMPLES', count, 'BAD', bad)
            """#

    /// Reads `expression-hex swift-hex` lines: evaluates each Python expression and compares
    /// `pickle.dumps(value, 4)` with what Swift wrote for the same value.
    static let compareDumps = #"""
        import pickle, struct, sys
        bad = count = 0
        for line in sys.stdin:
            expression, swift = line.split()
            value = eval(bytes.fromhex(expression).decode())
            python = pickle.dumps(value, 4).hex()
            count += 1
            if python != swift:
                bad += 1
                print('MISMATCH', repr(value)[:80], 'python', python[:120], 'swift', swift[:120])
        print('COMPARED', count, 'BAD', bad)
        """#
}
