/// The Python side of the pickle round-trip tests: a deterministic corpus of values, a
/// generator that pickles them, and a checker that unpickles what Swift rewrote.
enum PythonCorpus {
    /// Defines `corpus()` → list of (name, value, exact) and the structure-aware `same(a, b)`.
    static let common = #"""
import collections, datetime, decimal, fractions, math, pickle, random, sys, uuid

class Plain:
    def __init__(self, a, b):
        self.a = a; self.b = b
    def __eq__(self, other):
        return type(other) is Plain and self.__dict__ == other.__dict__

class Slotted:
    __slots__ = ('x', 'y')
    def __init__(self, x, y):
        self.x = x; self.y = y
    def __eq__(self, other):
        return type(other) is Slotted and (self.x, self.y) == (other.x, other.y)

Point = collections.namedtuple('Point', 'x y')

class MyError(Exception):
    pass

def corpus():
    rnd = random.Random(1234)
    items = []
    def add(name, value, exact=True):
        items.append((name, value, exact))
    for n in [0, 1, 255, 256, 65535, 65536, -1, -2**31, 2**31 - 1, 2**31, -2**31 - 1, 2**63 - 1, -2**63,
              2**63, -2**63 - 1, 2**64, 2**2000, -2**2000, 2**2100, -2**2100, 10**4299]:
        add('int %d bits' % n.bit_length(), n)
    for _ in range(50):
        bits = rnd.randint(1, 300)
        add('random int', rnd.randint(-2**bits, 2**bits))
    for f in [0.0, -0.0, 1.5, math.pi, float('inf'), float('-inf'), float('nan'), 5e-324, 1e308]:
        add('float %r' % f, f)
    add('True', True); add('False', False); add('None', None)
    for s in ['', 'a', 'hello', 'ünïcødé ☃ 𝄞', 'x' * 255, 'y' * 256, 'z' * 70000, '\ud800 lone surrogate', '\x00\n\\']:
        add('str %d' % len(s), s)
    for b in [b'', b'\x00\xff', bytes(range(256)), b'q' * 70000]:
        add('bytes %d' % len(b), b)
    add('bytearray', bytearray(b'abc')); add('empty bytearray', bytearray())
    for t in [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), (1, 'a', None, 2.5, b'b')]:
        add('tuple %d' % len(t), t)
    add('list', [1, 'two', 3.0, None, [4, [5]]])
    add('list 1001', list(range(1001)))
    add('list 2500', [str(i) for i in range(2500)])
    add('dict', {'a': 1, 'b': [2, 3], 3: 'c', (1, 2): None})
    add('dict 1500', {i: str(i) for i in range(1500)})
    add('set', {1, 2, 3, 'x'})
    add('frozenset', frozenset([1, 2, (3, 4)]))
    add('nested', {'k': [(1, 2), {'z': frozenset([1])}, [[[[]]]]]})
    shared = [1, 2]
    add('shared list', [shared, shared, (shared,)], exact=False)
    s = 'shared string'
    add('shared str', (s, s, [s]), exact=False)
    rec = [1]; rec.append(rec)
    add('recursive list', rec, exact=False)
    d = {}; d['self'] = d
    add('recursive dict', d, exact=False)
    lst = []; tup = (lst, 1); lst.append(tup)
    add('recursive tuple', tup, exact=False)
    add('OrderedDict', collections.OrderedDict([('b', 1), ('a', 2)]), exact=False)
    add('deque', collections.deque([1, 2, 3], maxlen=5), exact=False)
    add('defaultdict', collections.defaultdict(list, {'a': [1]}), exact=False)
    add('datetime', datetime.datetime(2026, 11, 29, 3, 4, 5, 678), exact=False)
    add('date', datetime.date(2020, 2, 29), exact=False)
    add('Decimal', decimal.Decimal('3.14159'), exact=False)
    add('Fraction', fractions.Fraction(22, 7), exact=False)
    add('complex', complex(1.5, -2), exact=False)
    add('range', range(3, 30, 3), exact=False)
    add('namedtuple', Point(1, 2), exact=False)
    add('uuid', uuid.UUID('12345678-1234-5678-1234-567812345678'), exact=False)
    add('plain object', Plain(1, [2, 'three']), exact=False)
    add('slotted object', Slotted('x', (1, 2)), exact=False)
    add('exception', ValueError('boom', 3), exact=False)
    add('user exception', MyError('mine'), exact=False)
    add('class', int, exact=False)
    add('function', len, exact=False)
    add('deep list', eval('[' * 200 + ']' * 200), exact=True)
    return items

def same(a, b, pairs=None):
    if pairs is None:
        pairs = {}
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple, dict, set, frozenset, collections.deque, collections.OrderedDict)) or hasattr(a, '__dict__'):
        key = id(a)
        if key in pairs:
            return pairs[key] is b      # shared references must stay shared
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
        return all(same(a[k], b[k], pairs) for k in a)
    if isinstance(a, BaseException):
        return a.args == b.args
    return a == b
"""#

    /// Prints one line per (value, protocol): `index protocol exact hex`.
    static let generator = common + "\n" + #"""
for i, (name, value, exact) in enumerate(corpus()):
    for proto in (0, 1, 2, 3, 4, 5):
        try:
            data = pickle.dumps(value, proto)
        except TypeError:
            continue    # e.g. __slots__ classes need protocol 2
        print(i, proto, 1 if exact else 0, data.hex())
"""#

    /// Reads `index protocol hex` lines (Swift's rewrites) and reports every mismatch.
    static let checker = common + "\n" + #"""
items = corpus()
bad = 0
count = 0
for line in sys.stdin:
    i, proto, data = line.split()
    name, value, _ = items[int(i)]
    try:
        got = pickle.loads(bytes.fromhex(data))
    except Exception as e:
        print('FAIL', name, 'protocol', proto, 'unpickling failed:', repr(e)); bad += 1; continue
    if not same(value, got):
        print('FAIL', name, 'protocol', proto, 'differs:', repr(got)[:200]); bad += 1
    count += 1
print('CHECKED', count, 'BAD', bad)
"""#
}
