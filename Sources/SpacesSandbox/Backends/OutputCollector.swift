import SpacesModel

/// Collects one output stream: streams it as UTF-8 chunks up to the cap and keeps a bounded
/// head and tail for the outcome.
///
/// Memory stays bounded by the cap whatever the command prints: the first `cap / 2` bytes are
/// kept as the head, the last `cap - cap / 2` in a ring buffer, the rest is only counted.
/// `onOutput` gets the first `cap` bytes as they come, then one marker chunk, then nothing.
struct OutputCollector {
  /// The marker streamed once when a stream passes the cap.
  static let streamCapMarker = "\n…[output cap reached: the rest is not streamed]…\n"

  let kind: OutputStreamKind
  let cap: Int
  let headCap: Int
  let tailCap: Int
  private(set) var total = 0
  private var head: [UInt8] = []
  private var tail: [UInt8] = []
  /// Where the next byte goes in `tail` once it is full.
  private var tailStart = 0
  private var streamed = 0
  private var carry: [UInt8] = []
  private var markerSent = false

  init(kind: OutputStreamKind, cap: Int) {
    self.kind = kind
    self.cap = max(0, cap)
    self.headCap = self.cap / 2
    self.tailCap = self.cap - self.cap / 2
    head.reserveCapacity(min(headCap, 1 << 16))
  }

  /// Whether the stream went over the cap.
  var truncated: Bool { total > cap }

  /// Takes one chunk read from the pipe; returns the text to stream, if any.
  mutating func append(_ bytes: UnsafeRawBufferPointer) -> String? {
    let count = bytes.count
    guard count > 0 else { return nil }
    total += count
    var offset = 0
    if head.count < headCap {
      let take = min(headCap - head.count, count)
      head.append(contentsOf: bytes[0..<take])
      offset = take
    }
    if offset < count {
      appendTail(UnsafeRawBufferPointer(rebasing: bytes[offset..<count]))
    }
    return streamText(bytes)
  }

  /// Flushes an incomplete UTF-8 sequence left at the end of the stream.
  mutating func finish() -> String? {
    guard !carry.isEmpty else { return nil }
    let text = String(decoding: carry, as: UTF8.self)
    carry = []
    return text
  }

  private mutating func appendTail(_ bytes: UnsafeRawBufferPointer) {
    guard tailCap > 0 else { return }
    var slice = bytes[...]
    if slice.count >= tailCap {
      // Only the last tailCap bytes can survive.
      tail = Array(slice.suffix(tailCap))
      tailStart = 0
      return
    }
    if tail.count < tailCap {
      let take = min(tailCap - tail.count, slice.count)
      tail.append(contentsOf: slice.prefix(take))
      slice = slice.dropFirst(take)
    }
    while !slice.isEmpty {
      let take = min(tailCap - tailStart, slice.count)
      let part = UnsafeRawBufferPointer(rebasing: slice.prefix(take))
      let start = tailStart
      tail.withUnsafeMutableBytes { dst in
        UnsafeMutableRawBufferPointer(rebasing: dst[start..<start + take]).copyMemory(from: part)
      }
      slice = slice.dropFirst(take)
      tailStart = (tailStart + take) % tailCap
    }
  }

  private mutating func streamText(_ bytes: UnsafeRawBufferPointer) -> String? {
    if markerSent { return nil }
    let room = cap - streamed
    let take = min(room, bytes.count)
    streamed += take
    var chunk = carry
    carry = []
    chunk.append(contentsOf: bytes[0..<take])
    if take < bytes.count {
      // The cap is reached: flush everything, then the marker.
      markerSent = true
      let keep = utf8CompletePrefixLength(chunk)
      return String(decoding: chunk[..<keep], as: UTF8.self) + Self.streamCapMarker
    }
    let cut = utf8CompletePrefixLength(chunk)
    if cut < chunk.count {
      carry = Array(chunk[cut...])
      chunk.removeSubrange(cut...)
    }
    if chunk.isEmpty { return nil }
    return String(decoding: chunk, as: UTF8.self)
  }

  /// The kept text: everything when under the cap, else head + omission marker + tail.
  func outcomeText() -> String {
    let tailBytes: [UInt8] = tailStart == 0 ? tail : Array(tail[tailStart...] + tail[..<tailStart])
    if !truncated {
      return String(decoding: head + tailBytes, as: UTF8.self)
    }
    let headKeep = utf8CompletePrefixLength(head)
    var tailSkip = 0
    while tailSkip < min(3, tailBytes.count) && tailBytes[tailSkip] & 0xC0 == 0x80 {
      tailSkip += 1
    }
    let omitted = total - headKeep - (tailBytes.count - tailSkip)
    return String(decoding: head[..<headKeep], as: UTF8.self)
      + "\n…[\(omitted) bytes omitted]…\n"
      + String(decoding: tailBytes[tailSkip...], as: UTF8.self)
  }
}

/// The length of the longest prefix of `bytes` that doesn't end inside a multibyte UTF-8
/// sequence (an incomplete sequence at the end is left out; invalid bytes are kept).
func utf8CompletePrefixLength(_ bytes: [UInt8]) -> Int {
  let count = bytes.count
  var index = count - 1
  var continuations = 0
  while index >= 0 && continuations < 3 && bytes[index] & 0xC0 == 0x80 {
    index -= 1
    continuations += 1
  }
  guard index >= 0 else { return count }
  let lead = bytes[index]
  let needed: Int
  if lead & 0xE0 == 0xC0 {
    needed = 2
  } else if lead & 0xF0 == 0xE0 {
    needed = 3
  } else if lead & 0xF8 == 0xF0 {
    needed = 4
  } else {
    return count
  }
  return count - index < needed ? index : count
}
