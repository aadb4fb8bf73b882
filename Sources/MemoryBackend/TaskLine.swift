/// The tasks of one queue, first in, first out, with room to put given-back tasks at the front.
///
/// An array and the index of its first live element: taking from the front moves an index,
/// not the elements, and the space taken is reused once the front is half the array. Faster than
/// a ring buffer for a queue's usual life (append at the back, take from the front in batches),
/// and a plain value: no class in between, so no dynamic exclusivity checks on the hot path.
/// A taken element is moved out of its slot (left nil), not copied: no reference counting per
/// element taken, and its memory is let go at once.
struct TaskLine<Element> {
    private var elements: [Element?] = []
    private var head = 0

    var count: Int { elements.count - head }
    var isEmpty: Bool { head == elements.count }

    var first: Element? { isEmpty ? nil : elements[head] }

    mutating func append(_ element: Element) {
        elements.append(element)
    }

    /// Takes the first element. The line must not be empty.
    mutating func removeFirst() -> Element {
        precondition(!isEmpty, "removeFirst from an empty TaskLine")
        let element = elements[head].take()!
        head += 1
        if head == elements.count {
            // Empty: start over without giving the storage back.
            elements.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024, head * 2 >= elements.count {
            elements.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Puts `element` before the first one.
    mutating func prepend(_ element: Element) {
        if head > 0 {
            head -= 1
            elements[head] = element
        } else {
            elements.insert(element, at: 0)
        }
    }

    /// Takes every element, leaving the line empty.
    mutating func removeAll() -> [Element] {
        defer {
            elements.removeAll(keepingCapacity: false)
            head = 0
        }
        return elements[head...].map { $0! }
    }

    /// Up to `count` elements from the front, left in place.
    func prefix(_ count: Int) -> [Element] {
        elements[head..<min(elements.count, head + max(0, count))].map { $0! }
    }
}

extension TaskLine: Sendable where Element: Sendable {}
